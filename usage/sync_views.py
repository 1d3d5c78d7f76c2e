from console.views import coming_soon

upstream_settings = coming_soon("usage", "Usage upstream", "Where usage is pulled from.")
test_connection = mappings = data_sync = upstream_settings


def run_status(request, pk):
    return upstream_settings(request)
