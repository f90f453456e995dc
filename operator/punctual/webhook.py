"""Validating admission webhook for ScheduledJobs, served by kopf (optional, off by default).

The CRD schema and its CEL rules check structure, and this webhook checks
meaning. It rejects a schedule that does not parse, an unknown time zone, a
schedule that never fires within the next years, and a template whose Job
fails a server-side dry run.
The operator checks the schedule again at run time, so with the webhook off an
invalid ScheduledJob is admitted but gets ScheduleValid=False.

``enable()`` registers the handler and a startup hook that serves HTTPS on
``listen:port`` with a self-signed certificate for ``host`` and lets kopf
create the ValidatingWebhookConfiguration ``punctual.dev`` (kopf's
settings.admission.managed), pointing the API server at ``https://host:port``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import tempfile
from pathlib import Path
from typing import Any

import kopf
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from punctual.models import GROUP, VERSION, ScheduledJobSpec
from punctual.naming import run_name
from punctual.schedule import ScheduleError, parse_schedule

logger = logging.getLogger("punctual.webhook")

WEBHOOK_CONFIGURATION = GROUP


def check_spec(namespace: str, name: str, spec: dict[str, Any]) -> ScheduledJobSpec:
    """Validate a ScheduledJob spec's meaning; raise kopf.AdmissionError naming the field and the fix."""
    try:
        model = ScheduledJobSpec.model_validate(spec)
    except ValidationError as error:
        details = "; ".join(
            f"spec.{'.'.join(str(part) for part in detail['loc'])}: {detail['msg']}" for detail in error.errors()
        )
        raise kopf.AdmissionError(details, code=422) from error
    try:
        parse_schedule(
            model.expressions if model.schedules else model.schedule or "",
            time_zone=model.timeZone,
            hash_key=f"{namespace}/{name}",
            field=model.schedule_field,
        )
    except ScheduleError as error:
        raise kopf.AdmissionError(str(error), code=422) from error
    return model


async def _dry_run_job(namespace: str, name: str, model: ScheduledJobSpec) -> None:
    """Create the Job a run would create with dryRun=All, so the API server checks the template."""
    from punctual import handlers

    controller = handlers.state.controller
    if controller is None:
        return
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": run_name(name or "dry-run", dt.datetime.now(dt.UTC)),
            "namespace": namespace,
            "labels": dict(model.jobTemplate.metadata.labels or {}) if model.jobTemplate.metadata else {},
        },
        "spec": model.jobTemplate.spec,
    }
    try:
        await controller.kube.create_job(namespace, job, dry_run=True)
    except ApiException as error:
        if error.status in (400, 422):
            raise kopf.AdmissionError(
                f"spec.jobTemplate: the Job it creates is invalid: {error.body or error.reason}", code=422
            ) from error
        logger.warning("[%s/%s] dry run of the Job template failed: %s", namespace, name, error)


async def validate_scheduled_job(
    spec: kopf.Spec, namespace: str | None, name: str | None, dryrun: bool, **_: Any
) -> None:
    model = check_spec(namespace or "", name or "", dict(spec))
    await _dry_run_job(namespace or "", name or "", model)


def _self_signed(host: str, directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate and key for host into directory."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    try:
        alt_name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt_name = x509.DNSName(host)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([alt_name]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "webhook.crt"
    key_path = directory / "webhook.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def enable(*, host: str, port: int, listen: str | None = None) -> None:
    """Register the validating handler and the startup hook that serves it."""
    # failurePolicy Ignore: while the operator is down, ScheduledJobs are still admitted, and the
    # operator's own check sets ScheduleValid=False on an invalid one when it comes back.
    kopf.on.validate(
        GROUP, VERSION, "scheduledjobs", id="scheduledjob", operations=["CREATE", "UPDATE"], ignore_failures=True
    )(validate_scheduled_job)
    certificate_dir = Path(tempfile.mkdtemp(prefix="punctual-webhook-"))

    @kopf.on.startup()
    async def serve_webhook(settings: kopf.OperatorSettings, **_: Any) -> None:
        cert_path, key_path = _self_signed(host, certificate_dir)
        settings.admission.server = kopf.WebhookServer(
            addr=listen or host, port=port, host=host, certfile=str(cert_path), pkeyfile=str(key_path)
        )
        settings.admission.managed = WEBHOOK_CONFIGURATION
        logger.info("admission webhook serving https://%s:%d (configuration %s)", host, port, WEBHOOK_CONFIGURATION)
