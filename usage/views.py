from console.views import coming_soon

usage_report = coming_soon("usage", "Usage", "Daily minutes per project and tier, pulled from the usage API.")
usage_csv = usage_report
