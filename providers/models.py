"""No tables here. These two models give the admin its pages for what lives elsewhere (the circuit
breakers in Redis, the sandbox's fault settings in the sandbox) and give operators the
permissions to see them ("view") and act on them ("change")."""

from django.db import models


class ProviderCircuit(models.Model):
    class Meta:
        managed = False
        default_permissions = ("view", "change")
        verbose_name = "circuit breaker"
        verbose_name_plural = "circuit breakers"

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class SandboxFaults(models.Model):
    class Meta:
        managed = False
        default_permissions = ("view", "change")
        verbose_name = "sandbox faults"
        verbose_name_plural = "sandbox faults"

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
