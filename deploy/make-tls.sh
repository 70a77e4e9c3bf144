#!/bin/sh
# Certificates for docker-compose.yml: a private CA, and a certificate each for the Temporal
# frontend ("temporal"), NATS ("nats") and sharehub's processes (a client of both).
#
#   sh deploy/make-tls.sh [FOLDER]      # default deploy/tls; refuses to overwrite a CA
#
# Temporal and NATS require client certificates signed by this CA, so only holders of
# sharehub.key (and of any further client certificate you sign) can reach them. Keep ca.key
# off the servers; in production use your organisation's CA instead.
set -eu
dir="${1:-deploy/tls}"
days=825
if [ -e "$dir/ca.key" ]; then
    echo "$dir/ca.key exists: not overwriting a CA (delete the folder to start again)" >&2
    exit 1
fi
mkdir -p "$dir"
umask 077

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
    -subj "/CN=sharehub deployment CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

# issue NAME USAGE: NAME.key and NAME.crt, signed by the CA, for NAME as a DNS name
issue() {
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
        -keyout "$dir/$1.key" -out "$dir/$1.csr"
    printf 'basicConstraints=critical,CA:FALSE\nextendedKeyUsage=%s\nsubjectAltName=DNS:%s\n' \
        "$2" "$1" > "$dir/$1.ext"
    openssl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
        -CAcreateserial -days "$days" -extfile "$dir/$1.ext" -out "$dir/$1.crt"
    rm "$dir/$1.csr" "$dir/$1.ext"
}
issue temporal serverAuth,clientAuth   # the frontend; clientAuth for its own internode calls
issue nats serverAuth
issue sharehub clientAuth

# The containers run as their own users: certificates are public, keys readable by the
# services that mount them (keep the folder itself private to the host's operators).
chmod 644 "$dir"/*.crt
chmod 644 "$dir"/temporal.key "$dir"/nats.key "$dir"/sharehub.key
chmod 600 "$dir/ca.key"
echo "certificates in $dir: ca.crt, temporal.crt/.key, nats.crt/.key, sharehub.crt/.key"
