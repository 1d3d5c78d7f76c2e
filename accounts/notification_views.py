def notifications(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def mark_all_read(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def open_notification(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")
