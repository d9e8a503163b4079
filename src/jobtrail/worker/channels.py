"""Alert channels, configured on the server by name: a JSON webhook signed with HMAC-SHA256,
e-mail over SMTP to the job's owners, and Apprise URLs for every other service.

Webhook signature: the headers `X-Jobtrail-Timestamp` (Unix seconds) and
`X-Jobtrail-Signature: sha256=<hex>`, the HMAC-SHA256 with the channel's secret of
`<timestamp>.<raw body>`. A receiver recomputes it, compares in constant time, and refuses
timestamps more than a few minutes old. `Idempotency-Key` is the same on every attempt of one
alert, so a receiver can drop repeats."""

import hashlib
import hmac
import smtplib
import ssl
import time
from email.message import EmailMessage
from typing import Any

import orjson

from jobtrail.domain.timefmt import format_ts
from jobtrail.store.alerts import Due

TIMEOUT = 10.0  # seconds per attempt by default (a channel's `timeout` changes it)


class SendFailed(Exception):
    """The channel did not take the alert; the message says why (kept as the last error)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def payload(due: Due) -> dict[str, Any]:
    return {
        "alertId": due.alert_key,
        "jobName": due.job_name,
        "environment": due.environment,
        "condition": due.condition,
        "runId": due.run_id,
        "scheduledAt": None if due.scheduled_at is None else format_ts(due.scheduled_at),
        "owners": list(due.recipients),
        "text": due.message,
    }


def send(channel: dict[str, Any], due: Due) -> None:
    """Deliver one alert through one channel; SendFailed when it did not go."""
    kind = channel["type"]
    try:
        if kind == "webhook":
            _webhook(channel, due)
        elif kind == "email":
            _email(channel, due)
        else:
            _apprise(channel, due)
    except SendFailed:
        raise
    except Exception as exc:  # network, TLS, SMTP: all mean "try again later"
        raise SendFailed(f"{type(exc).__name__}: {exc}") from exc


def _webhook(channel: dict[str, Any], due: Due) -> None:
    body = orjson.dumps(payload(due))
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": due.alert_key,
        "X-Jobtrail-Timestamp": stamp,
    }
    if channel.get("secret"):
        headers["X-Jobtrail-Signature"] = sign(channel["secret"], stamp, body)
    import httpx  # here, as apprise below: a server without such channels never loads them

    resp = httpx.post(channel["url"], content=body, headers=headers, timeout=_timeout(channel))
    if resp.status_code >= 300:
        raise SendFailed(f"the webhook answered {resp.status_code}")


def _email(channel: dict[str, Any], due: Due) -> None:
    to = list(due.recipients) or list(channel.get("to") or [])
    if not to:
        raise SendFailed("the job has no owners to e-mail and the channel no `to`")
    message = EmailMessage()
    message["Subject"] = due.message.splitlines()[0].strip("*")
    message["From"] = channel["sender"]
    message["To"] = ", ".join(to)
    message["X-Jobtrail-Idempotency-Key"] = due.alert_key
    message.set_content(due.message)
    port = int(channel.get("port", 25))
    with smtplib.SMTP(channel["host"], port, timeout=_timeout(channel)) as smtp:
        if channel.get("starttls"):
            # `cafile`: a CA bundle to trust besides the system's (an internal mail relay).
            smtp.starttls(context=ssl.create_default_context(cafile=channel.get("cafile")))
        if channel.get("username"):
            smtp.login(channel["username"], channel.get("password", ""))
        smtp.send_message(message)


def _timeout(channel: dict[str, Any]) -> float:
    return float(channel.get("timeout", TIMEOUT))


def _apprise(channel: dict[str, Any], due: Due) -> None:
    import apprise

    notifier = apprise.Apprise()
    for url in channel["urls"]:
        if not notifier.add(url):
            raise SendFailed(f"Apprise does not understand the URL {url.split(':')[0]}://...")
    title, _, body = due.message.partition("\n")
    if not notifier.notify(body=body or title, title=title.strip("*")):
        raise SendFailed("Apprise could not deliver to every URL")
