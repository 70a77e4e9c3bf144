"""Typed settings: the only place sharehub reads its environment.

Every process takes ``SHAREHUB_DATABASE_URL`` (the application's database login),
``SHAREHUB_TEMPORAL_ADDRESS`` and ``SHAREHUB_NATS_URL``; migrations alone take
``SHAREHUB_OWNER_DATABASE_URL``. When one is unset, the process looks for the stack that
``sharehub up`` is running and recorded in its state file (``.sharehub/stack.json``),
so a command typed in a second terminal finds the running stack by itself.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from workers.bus.streams import CHECKPOINTS_STREAM

STATE_FILE_NAME = "stack.json"
MASTER_KEY_FILE_NAME = "master.key"
CONSOLE_SECRET_FILE_NAME = "console-session.key"
AUDIT_SIGNING_KEY_FILE_NAME = "audit-signing.key"
AUDIT_PUBLIC_KEY_FILE_NAME = "audit-signing.pub"
REQUEST_ID_SECRET_FILE_NAME = "request-ids.key"
NATS_SEED_FILE_NAME = "nats-service.nk"


def generated_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The secret kept in ``path`` (mode 600): made with ``make()`` once, then read."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: the processes `sharehub up` starts
        # together find no file or the whole secret, never one still being written.
        with tempfile.NamedTemporaryFile(  # mode 0600
            dir=path.parent, prefix=f".{path.name}.", delete=False
        ) as out:
            out.write(make())
        try:
            os.link(out.name, path)
        except FileExistsError:  # another process made it first: use theirs
            pass
        finally:
            os.unlink(out.name)
    return path.read_bytes()


def generated_secret(path: Path) -> bytes:
    """32 random bytes, base64, kept in ``path`` (mode 600): made once, then read."""
    return generated_file(path, lambda: base64.b64encode(os.urandom(32)))


class StackNotFound(RuntimeError):
    """A service address is neither configured nor published by a running ``sharehub up``."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAREHUB_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the application login `sharehub_app`, which every "
        "process uses: it may add and read events, never change them.",
    )
    owner_database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the schema's owner, for migrations only. Without it, "
        "SHAREHUB_DATABASE_URL when that is set, else the running stack's owner.",
    )
    temporal_address: str | None = Field(default=None, description="Temporal frontend host:port.")
    temporal_namespace: str = "default"
    temporal_task_queue: str = Field(
        default="sharehub-share-requests",
        description="The task queue share-request workflows and their activities run on.",
    )
    temporal_ui_url: str | None = None
    temporal_tls_ca_file: Path | None = Field(
        default=None,
        description="PEM of the CA that signed the Temporal frontend's certificate; with it, "
        "sharehub reaches Temporal over TLS.",
    )
    temporal_tls_cert_file: Path | None = Field(
        default=None,
        description="PEM of sharehub's client certificate for Temporal (mutual TLS).",
    )
    temporal_tls_key_file: Path | None = Field(
        default=None, description="PEM of the private key of SHAREHUB_TEMPORAL_TLS_CERT_FILE."
    )
    temporal_tls_server_name: str | None = Field(
        default=None,
        description="The name the frontend's certificate is checked against, when it is not "
        "the host of SHAREHUB_TEMPORAL_ADDRESS.",
    )
    nats_url: str | None = Field(default=None, description="NATS URL, e.g. nats://127.0.0.1:4222")
    nats_seed: str | None = Field(
        default=None,
        description="The nkey seed (SU…) of sharehub's own identity on NATS, which every "
        "process uses. Without it, one is generated once under the home folder.",
    )
    nats_tls_ca_file: Path | None = Field(
        default=None,
        description="PEM of the CA that signed the NATS server's certificate, for a tls:// "
        "NATS_URL whose certificate the system's CAs do not vouch for.",
    )
    nats_tls_cert_file: Path | None = Field(
        default=None,
        description="PEM of sharehub's client certificate, for a NATS that requires one.",
    )
    nats_tls_key_file: Path | None = Field(
        default=None, description="PEM of the private key of SHAREHUB_NATS_TLS_CERT_FILE."
    )
    nats_server_config: Path | None = Field(
        default=None,
        description="The configuration file of the nats-server whose authorization sharehub "
        "rewrites and reloads when bus credentials are issued or revoked. Without it, the "
        "running stack's embedded server's; for any other, deploy `sharehub bus config`.",
    )
    home: Path = Field(
        default=Path(".sharehub"),
        description="Where the embedded services keep their data and the state file.",
    )
    api_host: str = Field(default="127.0.0.1", description="Where `sharehub api` listens.")
    api_port: int = Field(default=8000, description="The port `sharehub api` listens on.")
    api_url: str | None = Field(default=None, description="The API's URL, for clients.")
    forwarded_allow_ips: str | None = Field(
        default=None,
        description="Addresses of the reverse proxies `sharehub api` trusts (comma-separated "
        "IPs or networks, `*` for any): their X-Forwarded-Proto and X-Forwarded-For say the "
        "scheme (Secure cookies, HSTS) and the client's address. Unset: none is trusted.",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        description="The largest request body `sharehub api` reads; a larger one is refused (413).",
    )
    failed_key_attempts: int = Field(
        default=10,
        ge=1,
        description="Failed API key attempts a client address may make (API or console "
        "sign-in) within the window below; after that it must wait (429, Retry-After).",
    )
    failed_key_window_seconds: float = Field(
        default=300.0, gt=0, description="The window failed key attempts are counted in."
    )
    policy_file: Path = Field(
        default=Path("policy/demo-dsa.toml"),
        description="The data sharing agreement (TOML) new share requests are checked against.",
    )
    master_key: str | None = Field(
        default=None,
        description="Base64 of the 32-byte key that wraps per-subject data keys. "
        "Without it, one is generated once under the home folder.",
    )
    console_session_secret: str | None = Field(
        default=None,
        description="Secret that signs the web console's session cookies (32 bytes or more, "
        "base64-encoded). Without it, one is generated once under the home folder; set the "
        "same one for every API process behind one address.",
    )
    console_idle_minutes: float = Field(
        default=30.0,
        gt=0,
        description="A console session unused for this long ends; the person signs in again.",
    )
    request_id_secret: str | None = Field(
        default=None,
        description="Secret (32 bytes or more, base64) that request ids are derived from "
        "idempotency keys with, so no other agency can predict them. Without it, one is "
        "generated once under the home folder; set the same one for every API process.",
    )
    audit_signing_key_file: Path | None = Field(
        default=None,
        description="PEM file of the Ed25519 key that signs checkpoints (`sharehub audit "
        "keygen`). Without it, the home folder's key, generated once for a local stack.",
    )
    audit_public_key_file: Path | None = Field(
        default=None,
        description="PEM file of the public key that checkpoints are verified with. "
        "Without it, the one beside the signing key.",
    )
    checkpoint_every_events: int = Field(
        default=100, ge=1, description="Sign a checkpoint once this many events are new ..."
    )
    checkpoint_every_seconds: float = Field(
        default=60.0, gt=0, description="... or once any new event is this many seconds old."
    )
    checkpoint_stream: str = Field(
        default=CHECKPOINTS_STREAM,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The JetStream stream that keeps a copy of every signed checkpoint.",
    )

    @property
    def state_file(self) -> Path:
        return self.home / STATE_FILE_NAME

    @cached_property
    def running_stack(self) -> dict[str, Any]:
        """What ``sharehub up`` published about the stack it runs, or ``{}``."""
        try:
            return dict(json.loads(self.state_file.read_text()))
        except (FileNotFoundError, ValueError):
            return {}

    def _resolve(self, configured: str | None, key: str, variable: str) -> str:
        if configured:
            return configured
        published = self.running_stack.get(key)
        if published:
            return str(published)
        raise StackNotFound(
            f"{variable} is not set and no running stack was found at {self.state_file}; "
            "start one with `make up` or set the variable."
        )

    def resolved_database_url(self) -> str:
        """The application login: what every process and command uses."""
        return self._resolve(self.database_url, "database_url", "SHAREHUB_DATABASE_URL")

    def resolved_owner_database_url(self) -> str:
        """The owner's login, which only migrations use."""
        return self._resolve(
            self.owner_database_url or self.database_url,
            "owner_database_url",
            "SHAREHUB_OWNER_DATABASE_URL",
        )

    def resolved_temporal_address(self) -> str:
        return self._resolve(self.temporal_address, "temporal_address", "SHAREHUB_TEMPORAL_ADDRESS")

    def resolved_api_url(self) -> str:
        return self._resolve(self.api_url, "api_url", "SHAREHUB_API_URL")

    def resolved_nats_url(self) -> str:
        return self._resolve(self.nats_url, "nats_url", "SHAREHUB_NATS_URL")

    def nats_service_seed(self) -> str:
        """sharehub's own nkey seed on NATS; generated once for a local stack."""
        if self.nats_seed:
            return self.nats_seed.strip()
        from workers.bus.identities import new_seed

        path = self.home / NATS_SEED_FILE_NAME
        return generated_file(path, lambda: new_seed().encode()).decode().strip()

    def nats_tls_context(self) -> ssl.SSLContext | None:
        """How sharehub's processes check the NATS server (and prove themselves to it),
        when TLS files are configured; otherwise the client's own default for tls:// URLs."""
        ca, cert, key = self.nats_tls_ca_file, self.nats_tls_cert_file, self.nats_tls_key_file
        if ca is None and cert is None and key is None:
            return None
        if (cert is None) != (key is None):
            raise ValueError(
                "SHAREHUB_NATS_TLS_CERT_FILE and SHAREHUB_NATS_TLS_KEY_FILE go together"
            )
        context = ssl.create_default_context(cafile=ca)
        if cert is not None and key is not None:
            context.load_cert_chain(cert, key)
        return context

    def resolved_nats_server_config(self) -> Path | None:
        """The configuration of the NATS server sharehub manages, if it manages one."""
        if self.nats_server_config is not None:
            return self.nats_server_config
        published = self.running_stack.get("nats_server_config")
        return Path(published) if published else None

    def master_key_bytes(self) -> bytes:
        """The key-encryption key; generated once for a local stack when none is configured."""
        key = base64.b64decode(self.master_key or self._secret_in_home(MASTER_KEY_FILE_NAME))
        if len(key) != 32:
            raise ValueError("SHAREHUB_MASTER_KEY must be 32 bytes, base64-encoded")
        return key

    def console_session_secret_bytes(self) -> bytes:
        """The console's cookie-signing secret; generated once for a local stack."""
        secret = base64.b64decode(
            self.console_session_secret or self._secret_in_home(CONSOLE_SECRET_FILE_NAME)
        )
        if len(secret) < 32:
            raise ValueError("SHAREHUB_CONSOLE_SESSION_SECRET must be 32 bytes or more, base64")
        return secret

    def request_id_secret_bytes(self) -> bytes:
        """The key of idempotent request ids (an HMAC); generated once for a local stack."""
        secret = base64.b64decode(
            self.request_id_secret or self._secret_in_home(REQUEST_ID_SECRET_FILE_NAME)
        )
        if len(secret) < 32:
            raise ValueError("SHAREHUB_REQUEST_ID_SECRET must be 32 bytes or more, base64")
        return secret

    def _secret_in_home(self, file_name: str) -> bytes:
        """32 random bytes, base64, kept under the home folder: made once, then read."""
        return generated_secret(self.home / file_name)

    def resolved_audit_signing_key_file(self) -> Path:
        return self.audit_signing_key_file or self.home / AUDIT_SIGNING_KEY_FILE_NAME

    def resolved_audit_public_key_file(self) -> Path:
        if self.audit_public_key_file is not None:
            return self.audit_public_key_file
        if self.audit_signing_key_file is not None:
            return self.audit_signing_key_file.with_suffix(".pub")
        return self.home / AUDIT_PUBLIC_KEY_FILE_NAME
