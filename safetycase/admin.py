from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from safetycase import services
from safetycase.models import ApiToken, EvidenceBinding, Link, Membership, Node, SafetyCase
from safetycase.selectors import case_findings


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(SafetyCase)
class SafetyCaseAdmin(SimpleHistoryAdmin):
    list_display = ["name", "model_name", "model_version", "deployment", "updated_at"]
    search_fields = ["name", "model_name", "deployment"]
    inlines = [MembershipInline]
    readonly_fields = ["gsn_findings"]

    @admin.display(description="GSN findings (R1–R16)")
    def gsn_findings(self, obj: SafetyCase) -> str:
        if obj.pk is None:
            return "—"
        findings = case_findings(case=obj)
        if not findings:
            return "No findings: the argument follows every rule checked."
        return "\n".join(
            f"{f.severity.upper()} {f.rule} {f.node or ''}: {f.message}" for f in findings
        )


@admin.register(Node)
class NodeAdmin(SimpleHistoryAdmin):
    list_display = ["identifier", "case", "type", "undeveloped", "module"]
    list_filter = ["type", "undeveloped", "case"]
    search_fields = ["identifier", "statement"]


@admin.register(Link)
class LinkAdmin(SimpleHistoryAdmin):
    list_display = ["case", "source", "type", "target"]
    list_filter = ["type", "case"]
    raw_id_fields = ["source", "target"]


@admin.register(Membership)
class MembershipAdmin(SimpleHistoryAdmin):
    list_display = ["case", "user", "role"]
    list_filter = ["role", "case"]


@admin.register(EvidenceBinding)
class EvidenceBindingAdmin(SimpleHistoryAdmin):
    list_display = ["node", "case", "kind", "expression", "freshness_days"]
    list_filter = ["kind", "case"]
    raw_id_fields = ["node"]


@admin.register(ApiToken)
class ApiTokenAdmin(SimpleHistoryAdmin):
    """Keys are never shown (only their hash is stored); create them with
    `manage.py create_token`."""

    list_display = ["prefix", "user", "name", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    readonly_fields = ["key_sha256", "prefix", "created_at", "last_used_at"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            services.token_revoke(token=token)


# Review: comments, challenges, and versions (read-only: a version never changes).
from safetycase.models import Challenge, Comment, Signature, Version  # noqa: E402


@admin.register(Comment)
class CommentAdmin(SimpleHistoryAdmin):
    list_display = ["node", "case", "author", "created_at"]
    list_filter = ["case"]


@admin.register(Challenge)
class ChallengeAdmin(SimpleHistoryAdmin):
    list_display = ["node", "case", "raised_by", "state", "created_at"]
    list_filter = ["state", "case"]


class SignatureInline(admin.TabularInline):
    model = Signature
    extra = 0
    can_delete = False
    readonly_fields = ["user", "signed_at", "signed_hash", "server_signature", "key_id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Version)
class VersionAdmin(admin.ModelAdmin):
    list_display = ["case", "number", "content_hash", "created_by", "created_at"]
    list_filter = ["case"]
    readonly_fields = [
        "case",
        "number",
        "snapshot",
        "verdict",
        "reasons",
        "open_items",
        "previous_hash",
        "content_hash",
        "server_signature",
        "key_id",
        "note",
        "created_by",
        "created_at",
    ]
    inlines = [SignatureInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
