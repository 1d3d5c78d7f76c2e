"""The receiving end of Agora's Notification Center Service: POST /webhooks/agora/<project id>/.

Agora signs each notification with the project's notification secret; nothing is stored before the
signature over the raw body checks out (401 otherwise). Answers are JSON, well within Agora's 10 s: 200
for anything accepted, a re-delivery included (Agora would resend anything else).
"""

from dataclasses import dataclass

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from console.cache import cached
from console.crypto import decrypt, encrypt
from console.refusals import RuleViolation

from . import ncs, presence
from .models import NotificationSettings

NOTIFICATIONS = "notifications"  # cache generation bumped by every change to notification settings (signals)


@dataclass(frozen=True)
class Receiving:
    """What a delivery needs of a project's settings, cached between requests. The secret stays encrypted
    in the cache and is decrypted per delivery."""

    project_pk: int
    enabled: bool
    encrypted_secret: str


def receiving_for(project_id: str) -> Receiving | None:
    return cached(NOTIFICATIONS, project_id, lambda: _load(project_id))


def _load(project_id: str) -> Receiving | None:
    row = NotificationSettings.objects.filter(project__project_id=project_id).values_list(
        "project_id", "enabled", "secret"
    )
    found = row.first()
    return None if found is None else Receiving(found[0], found[1], encrypt(found[2]))


def _refuse(message: str, status: int) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


@csrf_exempt  # a machine's POST, authenticated by its signature
@require_POST
def agora_notification(request: HttpRequest, project_id: str) -> JsonResponse:
    receiving = receiving_for(project_id)
    if receiving is None or not receiving.enabled:
        return _refuse("This project does not receive notifications: enable them on its Notifications tab.", 404)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > ncs.MAX_BODY:
        return _refuse(f"A notification is at most {ncs.MAX_BODY:,} bytes.", 413)
    body = request.body
    signed = ncs.verify(
        decrypt(receiving.encrypted_secret),
        body,
        sha1=request.headers.get("Agora-Signature"),
        sha256=request.headers.get("Agora-Signature-V2"),
    )
    if not signed:
        return _refuse("The signature does not match this project's notification secret.", 401)
    try:
        notice = ncs.parse(body)
    except RuleViolation as problem:
        return _refuse(str(problem), 400)
    outcome = presence.receive(receiving.project_pk, notice)
    return JsonResponse({"noticeId": notice.notice_id, "outcome": outcome})
