"""Login lockout (django-axes): staff logins lock after AXES_FAILURE_LIMIT failures of a username
from one address, operators see the attempts in the admin, and only those allowed may unlock."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct horse battery staple"
ATTEMPTS = "/admin/axes/accessattempt/"


@pytest.fixture
def operator(db):
    return User.objects.create_user("operator", password=PASSWORD, is_staff=True)


def log_in(client: Client, password: str, username: str = "operator"):
    return client.post(LOGIN, {"username": username, "password": password})


def lock_out(client: Client) -> None:
    for attempt in range(1, 6):
        response = log_in(client, f"wrong-{attempt}")
        # The fifth failure is the one that locks.
        assert response.status_code == (429 if attempt == 5 else 200)


def is_logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def staff_with(*codenames: str) -> Client:
    user = User.objects.create_user(f"finance-{'-'.join(codenames)}", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="axes", codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_five_wrong_passwords_lock_the_login_even_for_the_right_one(operator):
    client = Client()
    assert "Please enter the correct username and password" in log_in(client, "wrong").content.decode()
    for attempt in range(2, 5):
        assert log_in(client, f"wrong-{attempt}").status_code == 200
    fifth = log_in(client, "wrong-5")
    assert fifth.status_code == 429

    response = log_in(client, PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Login locked" in page
    assert "Too many failed login attempts for <strong>operator</strong>" in page
    assert "after 5 failures" in page
    assert "Try again in 0:30:00" in page
    assert not is_logged_in(client)

    # The lock is on this username from this address: another address may still log in.
    elsewhere = Client(REMOTE_ADDR="192.0.2.44")
    assert log_in(elsewhere, PASSWORD).status_code == 302
    assert is_logged_in(elsewhere)


def test_fewer_failures_then_the_right_password_logs_in_and_clears_the_count(operator):
    client = Client()
    for attempt in range(4):
        log_in(client, f"wrong-{attempt}")
    assert log_in(client, PASSWORD).status_code == 302
    assert is_logged_in(client)
    assert not AccessAttempt.objects.filter(username="operator").exists()


def test_operators_see_attempts_and_lockouts_in_the_admin(operator, admin_client):
    lock_out(Client())
    attempt = AccessAttempt.objects.get(username="operator")
    assert attempt.failures_since_start == 5
    assert attempt.ip_address == "127.0.0.1"
    assert AccessFailureLog.objects.filter(username="operator").count() == 5

    listing = admin_client.get(ATTEMPTS + "?locked_out=yes")
    assert listing.status_code == 200
    assert "operator" in listing.content.decode()
    assert admin_client.get(f"{ATTEMPTS}{attempt.pk}/change/").status_code == 200
    assert admin_client.get("/admin/axes/accessfailurelog/").status_code == 200


def test_a_staff_user_without_the_permission_cannot_unlock(operator):
    lock_out(Client())
    attempt = AccessAttempt.objects.get(username="operator")
    viewer = staff_with("view_accessattempt")

    assert viewer.get(ATTEMPTS).status_code == 200
    assert viewer.post(f"{ATTEMPTS}{attempt.pk}/delete/", {"post": "yes"}).status_code == 403
    viewer.post(ATTEMPTS, {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"})

    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()
    assert log_in(Client(), PASSWORD).status_code == 429


def test_a_user_with_the_permission_unlocks_by_deleting_the_attempt(operator):
    client = Client()
    lock_out(client)
    attempt = AccessAttempt.objects.get(username="operator")
    finance_admin = staff_with("view_accessattempt", "delete_accessattempt")

    assert finance_admin.post(f"{ATTEMPTS}{attempt.pk}/delete/", {"post": "yes"}).status_code == 302

    assert not AccessAttempt.objects.filter(pk=attempt.pk).exists()
    assert log_in(client, PASSWORD).status_code == 302
    assert is_logged_in(client)


def test_axes_reset_username_unlocks(operator):
    client = Client()
    lock_out(client)

    call_command("axes_reset_username", "operator")

    assert not AccessAttempt.objects.filter(username="operator").exists()
    assert log_in(client, PASSWORD).status_code == 302


def test_force_login_is_not_affected_by_a_lockout(operator):
    lock_out(Client())
    client = Client()
    client.force_login(operator)
    assert client.get("/admin/").status_code == 200
