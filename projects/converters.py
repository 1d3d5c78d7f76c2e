"""URL converter for the short project ID, so that malformed ids never reach a query."""

from django.urls import register_converter


class ProjectIdConverter:
    regex = "[A-Za-z0-9]{1,16}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ProjectIdConverter, "project_id")
