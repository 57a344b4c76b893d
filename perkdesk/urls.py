from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from perkdesk import views

admin.site.site_header = "PerkDesk"
admin.site.site_title = "PerkDesk admin"
admin.site.index_title = "Support back office"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="registration/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", views.SignOutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("requests_app.urls")),
    path("", include("marketplace.urls")),
]
