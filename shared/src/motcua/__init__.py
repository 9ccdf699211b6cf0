"""Motcua platform kit: the mechanics and contracts every service shares.

Modules:
    config        settings read from the environment (pydantic-settings)
    db            async SQLAlchemy engines and sessions, kit tables (outbox, inbox, idempotency)
    events        the CloudEvents envelope and the event-contract base class
    contracts     versioned event payloads, one module per producing service
    outbox        transactional outbox: record() in the business transaction, Relay publishes
    inbox         idempotent consumers: claim() in the same transaction as the effect
    consumer      durable pull-consumer runner with backoff, max_deliver and dead letters
    streams       JetStream topology (streams and consumers) as versioned code
    errors        RFC 9457 problem+json errors and handlers
    idempotency   Idempotency-Key for state-changing POSTs
    logging       structured JSON logs, request/correlation ids, ID-number redaction
    service       create_service_app(): health, readiness, metrics, lifespan wiring
    cli           the `motcua` command
"""

__version__ = "0.1.0"
