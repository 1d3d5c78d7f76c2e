"""The tabs at the top of the usage pages, rendered by console.navigation.tabs: Usage | Data sync | Settings
(Settings for usage managers)."""

from console.navigation import Tab

USAGE_TABS = (
    Tab("overview", "Usage", "usage:overview"),
    Tab("sync", "Data sync", "usage:sync"),
    Tab("settings", "Settings", "usage:settings", requires=("usage", "manage")),
)
