def alerts(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def delete_alert(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")
