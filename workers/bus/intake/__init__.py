"""Bus intake: agencies raise share requests and acknowledge disclosures on JetStream.

Each agency publishes on subjects of its own, in the stream ``SHAREHUB_INTAKE``:

- ``sharehub.intake.<agency-id>.requests``: an ``IntakeRaise`` raises a request;
- ``sharehub.intake.<agency-id>.acknowledgements``: an ``IntakeAcknowledgement``
  acknowledges a disclosure sent to the agency;

and is answered, for every message, with an ``IntakeReply`` on
``sharehub.replies.<agency-id>`` (stream ``SHAREHUB_REPLIES``). The agency is the
subject's: the body never names it. sharehub trusts the subject because the NATS
server enforces it: each agency connects with its own nkey credential, which may
publish only to its own intake subjects and read only its own notices and replies
(:mod:`workers.bus.server_config`).

The promises:

- **Every message is answered, nothing is silently dropped.** A message that is not
  JSON, does not fit its model, comes from an agency the agreement does not know
  or that is not a signatory, or that the service refuses (``RequestRejected``,
  ``ActionRejected``, an unknown or finished request) is answered ``rejected``
  with the specific reasons and acknowledged: retrying would not help, and nothing
  is recorded. Only the two intake subjects per agency are in the stream, so a
  publish to any other ``sharehub.intake`` subject fails at the publisher instead
  of lying unread.
- **Transient failures are retried, then dead-lettered.** When the service cannot
  be reached (Temporal or the store down, a call timing out) the message is
  nak'ed with a growing delay and redelivered. The delivery that reaches
  ``max_deliver`` and still fails is copied, with headers saying why, to
  ``sharehub.dead-letter.intake.<agency-id>`` (stream ``SHAREHUB_DEAD_LETTERS``),
  answered ``rejected`` and acknowledged.
- **A duplicate never starts a second request.** ``Nats-Msg-Id``, when the agency
  sets it, lets JetStream drop a re-published message within the duplicate
  window. Beyond that, the request id is the workflow id: a second raise with the
  same id and the same content is answered ``accepted`` (already raised) and
  records nothing; with different content it is rejected. A repeated
  acknowledgement is answered ``accepted`` (already acknowledged).
- **A request id is the agency's that raised it first.** Whichever door raised
  it (the bus, HTTP, the CLI), a raise by another agency with the same id is
  answered ``rejected`` ("already used by another agency's request") and never
  ``accepted``: no agency can pre-claim, or be told it raised, another's request.
- **No personal data in logs or replies.** Logs and replies carry request,
  disclosure and agency ids and reasons only; field errors name the field, never
  its value. The intake stream keeps a message only until it is answered (work-
  queue retention); a dead letter keeps the message's ids and why it failed,
  never its body, and expires after ``DEAD_LETTER_MAX_AGE`` (14 days).

Errors: the intake raises nothing of its own. A service error
(:class:`~workers.hub.share_requests.ShareRequestServiceError`) is a rejection; any
other exception from the service is transient.

The modules, one role each:

- :mod:`~workers.bus.intake.messages`: the message contract (raise, acknowledgement,
  reply), as agencies see it;
- :mod:`~workers.bus.intake.consumer`: :class:`~workers.bus.intake.consumer.BusIntake`,
  the JetStream consumers that answer, retry and dead-letter;
- :mod:`~workers.bus.intake.serving`: running it against Temporal, as ``sharehub
  relay`` does (:func:`~workers.bus.intake.serving.serve_intake`);
- :mod:`~workers.bus.intake.asyncapi`: the AsyncAPI document the API serves.

Stream and subject names are :mod:`workers.bus.streams`'. Nothing is imported
here: importing the package starts nothing and pulls in no client.
"""
