"""Two operator pages without tables: the providers' circuit breakers (state read from Redis,
with a reset per provider) and the sandbox's fault injection (read from and sent to the sandbox).
Seeing them takes the model's "view" permission; acting on them its "change" permission."""

import logging

import redis
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from . import sandbox_control
from .circuits import CircuitConfig, circuit_breaker
from .forms import FaultsForm
from .models import ProviderCircuit, SandboxFaults
from .registry import PROVIDER_NAMES

logger = logging.getLogger(__name__)


class PageAdmin(admin.ModelAdmin):
    """A model admin whose change list is one custom page, and that adds and deletes nothing."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def url_name(self, page: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{page}"

    def render(self, request: HttpRequest, template: str, **context: object) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": self.opts.verbose_name_plural.capitalize(),
            "can_change": self.has_change_permission(request),
            **context,
        }
        return TemplateResponse(request, template, context)

    def check_view(self, request: HttpRequest) -> None:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied


@admin.register(ProviderCircuit)
class ProviderCircuitAdmin(PageAdmin):
    def get_urls(self) -> list[URLPattern]:
        return [
            path("", self.admin_site.admin_view(self.circuits_view), name=self.url_name("changelist")),
            path("<str:provider>/reset/", self.admin_site.admin_view(self.reset_view), name=self.url_name("reset")),
        ]

    def circuits_view(self, request: HttpRequest) -> HttpResponse:
        self.check_view(request)
        try:
            circuits = [circuit_breaker(name).snapshot() for name in PROVIDER_NAMES]
        except redis.RedisError as exc:
            circuits = []
            messages.error(request, f"The circuit breakers' store (Redis) cannot be read: {exc}")
        return self.render(
            request, "admin/providers/circuits.html", circuits=circuits, config=CircuitConfig.from_settings()
        )

    def reset_view(self, request: HttpRequest, provider: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        if provider not in PROVIDER_NAMES:
            raise Http404
        try:
            circuit_breaker(provider).reset()
        except redis.RedisError as exc:
            messages.error(request, f"The circuit breakers' store (Redis) cannot be written: {exc}")
        else:
            logger.warning("circuit reset by an operator", extra={"provider": provider, "user_id": request.user.pk})
            messages.success(request, f"{provider}: circuit closed and its counts reset.")
        return redirect(f"admin:{self.url_name('changelist')}")


@admin.register(SandboxFaults)
class SandboxFaultsAdmin(PageAdmin):
    def get_urls(self) -> list[URLPattern]:
        return [path("", self.admin_site.admin_view(self.faults_view), name=self.url_name("changelist"))]

    def faults_view(self, request: HttpRequest) -> HttpResponse:
        self.check_view(request)
        form = FaultsForm()
        if request.method == "POST":
            if not self.has_change_permission(request):
                raise PermissionDenied
            form = FaultsForm(request.POST)
            if "clear" in request.POST or form.is_valid():
                try:
                    self._apply(request, form)
                except sandbox_control.FaultsRefused as exc:
                    form.add_error(None, f"The sandbox refused these settings: {exc}")
                except sandbox_control.SandboxUnavailable as exc:
                    messages.error(request, str(exc))
                else:
                    return redirect(f"admin:{self.url_name('changelist')}")
        try:
            faults = sandbox_control.faults_get()
        except sandbox_control.SandboxUnavailable as exc:
            faults = None
            messages.error(request, str(exc))
        return self.render(
            request,
            "admin/providers/faults.html",
            form=form,
            faults=faults,
            control_url=sandbox_control.control_url(),
        )

    def _apply(self, request: HttpRequest, form: FaultsForm) -> None:
        if "clear" in request.POST:
            sandbox_control.faults_clear()
            logger.warning("sandbox faults cleared by an operator", extra={"user_id": request.user.pk})
            messages.success(request, "Every sandbox fault removed.")
            return
        body = form.to_request()
        sandbox_control.faults_set(body)
        logger.warning("sandbox faults set by an operator", extra={"user_id": request.user.pk, "faults": body})
        messages.success(request, f"Sandbox faults set for {body.get('provider', 'all providers')}.")
