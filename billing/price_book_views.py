def price_books(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def create_price_book(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def edit_price_book(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")


def delete_price_book(request, **kwargs):  # placeholder, replaced by the real view
    from django.http import HttpResponse

    return HttpResponse("not yet")
