"""The receiving end of Agora's Notification Center Service: POST /webhooks/agora/<project id>/.

Agora signs each notification with the project's notification secret; nothing is stored before the
signature over the raw body checks out (401 otherwise). Answers are JSON, well within Agora's 10 s: 200
for anything accepted, a re-delivery included (Agora would resend anything else).
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from console.refusals import RuleViolation

from . import ncs, presence
from .models import NotificationSettings


def _refuse(message: str, status: int) -> JsonResponse:
    return JsonResponse({"message": message}, status=status)


@csrf_exempt  # a machine's POST, authenticated by its signature
@require_POST
def agora_notification(request: HttpRequest, project_id: str) -> JsonResponse:
    receiving = NotificationSettings.objects.select_related("project").filter(project__project_id=project_id).first()
    if receiving is None or not receiving.enabled:
        return _refuse("This project does not receive notifications: enable them on its Notifications tab.", 404)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > ncs.MAX_BODY:
        return _refuse(f"A notification is at most {ncs.MAX_BODY:,} bytes.", 413)
    body = request.body
    signed = ncs.verify(
        receiving.secret,
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
    outcome = presence.receive(receiving.project, notice)
    return JsonResponse({"noticeId": notice.notice_id, "outcome": outcome})
