from django.urls import path

from requests_app import desk, views

app_name = "requests_app"

urlpatterns = [
    path("requests/", views.my_requests, name="my_requests"),
    path("desk/", desk.desk, name="desk"),
]
