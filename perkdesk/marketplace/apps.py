from django.apps import AppConfig


class MarketplaceConfig(AppConfig):
    name = "perkdesk.marketplace"
    label = "marketplace"
    verbose_name = "Marketplace data"
