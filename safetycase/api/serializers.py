from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from safetycase.choices import BindingKind, LinkType, NodeType
from safetycase.models import Assessment, Attestation, EvidenceBinding, Link, Node, SafetyCase


class NodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Node
        fields = [
            "identifier",
            "type",
            "statement",
            "undeveloped",
            "module",
            "attributes",
            "template_ref",
            "combination",
            "catalogue_id",
            "updated_at",
        ]


class LinkSerializer(serializers.ModelSerializer):
    source = serializers.CharField(
        source="source.identifier", help_text="Identifier of the source node."
    )
    target = serializers.CharField(
        source="target.identifier", help_text="Identifier of the target node."
    )

    class Meta:
        model = Link
        fields = ["id", "source", "target", "type", "target_relation"]


class CaseListSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(
        view_name="api_case_detail", lookup_url_kwarg="case_id"
    )
    node_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = SafetyCase
        fields = [
            "id",
            "url",
            "name",
            "model_name",
            "model_version",
            "deployment",
            "node_count",
            "updated_at",
        ]


class CaseSerializer(serializers.ModelSerializer):
    project = serializers.CharField(source="project.name", read_only=True)

    class Meta:
        model = SafetyCase
        fields = [
            "id",
            "project",
            "name",
            "model_name",
            "model_version",
            "deployment",
            "description",
            "modules",
            "created_at",
            "updated_at",
        ]


class CaseDetailSerializer(CaseSerializer):
    """A case with its whole argument (the view fills nodes and links from selectors)."""

    nodes = NodeSerializer(many=True, read_only=True)
    links = LinkSerializer(many=True, read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "nodes", "links"]


class FindingSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="GSN rule code, R1–R16.")
    severity = serializers.ChoiceField(choices=["error", "warning"])
    node = serializers.CharField(allow_null=True, help_text="Identifier of the node concerned.")
    message = serializers.CharField()


class NodeCreateSerializer(serializers.Serializer):
    identifier = serializers.CharField(max_length=100)
    type = serializers.ChoiceField(choices=NodeType.choices)
    statement = serializers.CharField(required=False, allow_blank=True, default="")
    undeveloped = serializers.BooleanField(required=False, default=False)
    module = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    attributes = serializers.DictField(required=False, default=dict)


class NodeUpdateSerializer(serializers.Serializer):
    identifier = serializers.CharField(max_length=100, required=False)
    type = serializers.ChoiceField(choices=NodeType.choices, required=False)
    statement = serializers.CharField(required=False, allow_blank=True)
    undeveloped = serializers.BooleanField(required=False)
    module = serializers.CharField(required=False, allow_blank=True, max_length=200)
    attributes = serializers.DictField(required=False)
    expected_updated_at = serializers.DateTimeField(
        required=False,
        help_text=(
            "The `updated_at` you last read. If the object was saved since, the change is "
            "refused with 409 instead of overwriting someone else's edit."
        ),
    )


class LinkCreateSerializer(serializers.Serializer):
    source = serializers.CharField(max_length=100, help_text="Identifier of the source node.")
    target = serializers.CharField(max_length=100, help_text="Identifier of the target node.")
    type = serializers.ChoiceField(choices=LinkType.choices)
    target_relation = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=100,
        help_text="Only for a challenge of a relationship: the other end of that relationship.",
    )


# --------------------------------------------------------------------------------------------
# Templates, instantiation and evidence bindings


class BindingSerializer(serializers.ModelSerializer):
    node = serializers.CharField(source="node.identifier", help_text="Identifier of the node.")

    class Meta:
        model = EvidenceBinding
        fields = [
            "id",
            "node",
            "kind",
            "selector",
            "freshness_days",
            "expression",
            "description",
            "policy",
            "policy_justification",
            "updated_at",
        ]
        extra_kwargs = {
            "selector": {
                "help_text": (
                    "Which runs are the evidence: task, task_version, model, "
                    "conditions ({run metadata key: value}), scorer, metric. An "
                    "empty selector on a check reads the runs of the solutions in the "
                    "assumption's scope. paired_with (task, task_version, conditions, "
                    "scorer; the rest from the selector itself) compares each run with the "
                    "latest run of another condition sample by sample, as the CEL variable "
                    "`paired` (not with the policy pooled)."
                )
            }
        }


class CaseCreatedSerializer(CaseDetailSerializer):
    """The new case with its argument and the evidence bindings the template declared."""

    bindings = BindingSerializer(many=True, read_only=True)

    class Meta(CaseDetailSerializer.Meta):
        fields = [*CaseDetailSerializer.Meta.fields, "bindings"]


class CaseCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    project = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=(
            "Name of the project the case belongs to; you must be an author or owner of it. "
            "Left out: your only such project, or a new project of your own when you have "
            "none. Case names are unique within a project."
        ),
    )
    model_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    model_version = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    deployment = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    template = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Id of a library template (GET /api/v1/templates/); empty for an empty case.",
    )
    parameters = serializers.DictField(
        required=False,
        default=dict,
        help_text=(
            "Template parameter values by name. `model`, `model_version` and `deployment` "
            "default to the case fields of the same meaning."
        ),
    )


class CaseInstantiateSerializer(serializers.Serializer):
    template = serializers.CharField(help_text="Id of a library template.")
    parameters = serializers.DictField(required=False, default=dict)
    under = serializers.CharField(
        max_length=100, help_text="Identifier of the goal (or strategy) to attach the template to."
    )
    prefix = serializers.CharField(
        max_length=50,
        required=False,
        help_text="Identifier prefix of the new nodes; default: the template's (SI → SI-G1).",
    )


class InstantiationResultSerializer(serializers.Serializer):
    case = serializers.IntegerField(help_text="Id of the case.")
    top = serializers.CharField(help_text="Identifier of the template's top goal in the case.")
    created = serializers.ListField(child=serializers.CharField(), help_text="New nodes.")
    reused = serializers.ListField(
        child=serializers.CharField(), help_text="Catalogue assumptions the case already had."
    )
    bindings = serializers.IntegerField(help_text="Evidence bindings and checks created.")


class InstantiationErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    missing = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Required parameters not given."
    )
    unknown = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Parameters the template lacks."
    )
    invalid = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Values of the wrong type."
    )


class TemplateSummarySerializer(serializers.Serializer):
    id = serializers.CharField()
    url = serializers.CharField(help_text="The template's documentation endpoint.")
    title = serializers.CharField()
    version = serializers.IntegerField()
    summary = serializers.CharField()
    includes = serializers.ListField(
        child=serializers.CharField(), help_text="Templates it can attach."
    )
    required_parameters = serializers.ListField(child=serializers.CharField())
    node_count = serializers.IntegerField()


class TemplateParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.ChoiceField(
        choices=["string", "integer", "number", "probability", "boolean", "choice", "list"]
    )
    description = serializers.CharField()
    required = serializers.BooleanField()
    default = serializers.JSONField(allow_null=True)
    choices = serializers.ListField(child=serializers.CharField(), required=False)
    min_items = serializers.IntegerField(required=False)
    max_items = serializers.IntegerField(required=False, allow_null=True)
    fields = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="Fields of list items."
    )
    declared_by = serializers.CharField(help_text="Template (or `assumptions`) declaring it.")


class BindingSpecSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=BindingKind.choices)
    description = serializers.CharField()
    selector = serializers.DictField()
    freshness_days = serializers.JSONField(allow_null=True, help_text="Days, or a {parameter}.")
    expression = serializers.CharField(help_text="CEL, with {parameters} still in place.")
    policy = serializers.ChoiceField(
        choices=["all", "pooled", "latest"],
        required=False,
        help_text="Criteria: how the evidence ledger combines runs, when the template sets it.",
    )
    policy_justification = serializers.CharField(
        required=False, allow_blank=True, help_text="Why `latest` may let the newest run decide."
    )


class TemplateNodeSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Node id within the template.")
    identifier = serializers.CharField(help_text="Identifier it gets in a case (.<k> per item).")
    type = serializers.ChoiceField(choices=NodeType.choices)
    text = serializers.CharField(help_text="Statement with {parameters}.")
    part = serializers.CharField(allow_null=True)
    supported_by = serializers.ListField(child=serializers.CharField())
    in_context_of = serializers.ListField(child=serializers.CharField())
    combination = serializers.CharField()
    undeveloped = serializers.BooleanField()
    requires_attestation = serializers.BooleanField()
    bindings = BindingSpecSerializer(many=True)


class SourceSerializer(serializers.Serializer):
    key = serializers.CharField()
    title = serializers.CharField()
    authors = serializers.CharField()
    year = serializers.IntegerField(allow_null=True)
    url = serializers.CharField()
    where = serializers.CharField(help_text="Sections the template draws on.")


class CatalogueAssumptionSerializer(serializers.Serializer):
    id = serializers.CharField()
    statement = serializers.CharField()
    used_by = serializers.ListField(child=serializers.CharField())
    requires_attestation = serializers.BooleanField()
    attestation = serializers.CharField()
    fails_when = serializers.CharField()
    checks = BindingSpecSerializer(many=True)
    sources = SourceSerializer(many=True)


class TemplatePartSerializer(serializers.Serializer):
    id = serializers.CharField()
    for_each = serializers.CharField(allow_null=True, help_text="List parameter it repeats over.")
    item_name = serializers.CharField(
        allow_null=True, help_text="Name of the item in texts (`as:` in the YAML)."
    )
    when = serializers.CharField(allow_null=True, help_text="CEL condition over parameters.")
    description = serializers.CharField()


class TemplateIncludeSerializer(serializers.Serializer):
    template = serializers.CharField()
    under = serializers.CharField()
    when = serializers.CharField(allow_null=True)
    parameters = serializers.DictField(child=serializers.CharField())


class TemplateDetailSerializer(TemplateSummarySerializer):
    prefix = serializers.CharField(allow_blank=True)
    guidance = serializers.CharField()
    file = serializers.CharField()
    top = serializers.CharField(help_text="Template node id of the top goal.")
    sources = SourceSerializer(many=True)
    parameters = TemplateParameterSerializer(many=True)
    parts = TemplatePartSerializer(many=True)
    nodes = TemplateNodeSerializer(many=True)
    includes = TemplateIncludeSerializer(many=True)
    assumptions = CatalogueAssumptionSerializer(many=True)
    root_rules = serializers.JSONField(allow_null=True, help_text="ROOT's risk rules, as data.")
    example = serializers.DictField(help_text="Parameter values that instantiate the template.")


class FlagSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="e.g. missing_evidence, criterion_failed, ill_formed.")
    severity = serializers.ChoiceField(choices=["error", "warning", "info"])
    node = serializers.CharField(allow_null=True)
    run = serializers.IntegerField(allow_null=True, help_text="The run that caused it, if any.")
    rule = serializers.CharField(allow_blank=True, help_text="The rule code that caused it.")
    message = serializers.CharField()


class NodeStatusSerializer(serializers.Serializer):
    identifier = serializers.CharField()
    status = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)


class LedgerEntrySerializer(serializers.Serializer):
    run = serializers.JSONField(help_text="The run's id.")
    k = serializers.IntegerField(allow_null=True, help_text="Successes (None: no k/n).")
    n = serializers.IntegerField(allow_null=True, help_text="Samples.")
    holds = serializers.BooleanField(
        allow_null=True, help_text="The criterion on this run alone; null when not evaluable."
    )
    role = serializers.CharField(
        help_text="One of decisive, outweighed, superseded, withdrawn. "
        "decisive: its verdict (or its pool's) decided the status; outweighed: it "
        "meets the criterion but another run's failure decided; superseded: an older run under "
        "policy 'latest'; withdrawn: a reviewer withdrew it (note says who and why).",
    )
    note = serializers.CharField(allow_blank=True)


class BindingLedgerSerializer(serializers.Serializer):
    binding = serializers.IntegerField()
    node = serializers.CharField()
    policy = serializers.CharField(help_text="all, pooled or latest.")
    runs_looked_at = serializers.IntegerField(
        help_text="How many eligible runs the binding's evidence has had (withdrawn included)."
    )
    evidence = LedgerEntrySerializer(many=True)


class AssessmentSerializer(serializers.ModelSerializer):
    nodes = serializers.SerializerMethodField()
    flags = FlagSerializer(many=True)
    bindings = serializers.SerializerMethodField()

    class Meta:
        model = Assessment
        fields = [
            "id",
            "created_at",
            "trigger",
            "trigger_detail",
            "overall_status",
            "summary",
            "nodes",
            "flags",
            "bindings",
            "changes",
        ]

    @extend_schema_field(BindingLedgerSerializer(many=True))
    def get_bindings(self, obj: Assessment) -> list[dict]:
        """Each acceptance criterion's ledger: every run looked at, with its role."""
        return [
            {
                "binding": int(binding_id),
                "node": ledger.get("node", ""),
                "policy": ledger.get("policy", ""),
                "runs_looked_at": len(ledger.get("evidence", ())),
                "evidence": ledger.get("evidence", []),
            }
            for binding_id, ledger in sorted(
                (obj.evidence or {}).items(), key=lambda item: int(item[0])
            )
        ]

    @extend_schema_field(NodeStatusSerializer(many=True))
    def get_nodes(self, obj: Assessment) -> list[dict]:
        return [
            {"identifier": identifier, "status": status, "reason": obj.reasons.get(identifier, "")}
            for identifier, status in sorted(obj.statuses.items())
        ]


class AssessmentHistorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Assessment
        fields = [
            "id",
            "created_at",
            "trigger",
            "trigger_detail",
            "status",
            "error",
            "overall_status",
            "summary",
            "changes",
        ]
        extra_kwargs = {
            "status": {
                "help_text": "`failed`: the assessment stopped before a result (e.g. past the "
                "task's time limit); `error` says why, and the statuses of the case are those "
                "of the latest `complete` assessment."
            }
        }


class AttestationSerializer(serializers.ModelSerializer):
    node = serializers.CharField(source="node.identifier")
    attested_by = serializers.CharField(source="attested_by.username")

    class Meta:
        model = Attestation
        fields = [
            "id",
            "node",
            "attested_by",
            "statement",
            "scope",
            "evidence_reference",
            "expires_at",
            "created_at",
        ]


class AttestationCreateSerializer(serializers.Serializer):
    node = serializers.CharField(help_text="Identifier of the assumption attested.")
    statement = serializers.CharField(help_text="Why the assumption holds.")
    scope = serializers.CharField(required=False, allow_blank=True, default="")
    evidence_reference = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=500
    )
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Default: the project's attestation_expiry_days (180) from now.",
    )


class BindingCreateSerializer(serializers.Serializer):
    node = serializers.CharField(help_text="Identifier of the solution or assumption.")
    expression = serializers.CharField(help_text="CEL criterion (solution) or check (assumption).")
    selector = serializers.DictField(required=False, default=dict)
    freshness_days = serializers.IntegerField(required=False, allow_null=True, default=None)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    policy = serializers.CharField(
        required=False,
        help_text="How the eligible runs combine: all (default; every run must meet the "
        "criterion), pooled (k and n summed per task and model version) or latest (only the "
        "newest run; needs policy_justification).",
    )
    policy_justification = serializers.CharField(
        required=False, allow_blank=True, help_text="Why only the latest run counts."
    )


class BindingUpdateSerializer(serializers.Serializer):
    expression = serializers.CharField(required=False)
    selector = serializers.DictField(required=False)
    freshness_days = serializers.IntegerField(required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_blank=True)
    policy = serializers.CharField(
        required=False,
        help_text="How the eligible runs combine: all (default; every run must meet the "
        "criterion), pooled (k and n summed per task and model version) or latest (only the "
        "newest run; needs policy_justification).",
    )
    policy_justification = serializers.CharField(
        required=False, allow_blank=True, help_text="Why only the latest run counts."
    )
    expected_updated_at = serializers.DateTimeField(
        required=False,
        help_text=(
            "The `updated_at` you last read. If the object was saved since, the change is "
            "refused with 409 instead of overwriting someone else's edit."
        ),
    )


# Review: signed-off versions.


class SignatureSerializer(serializers.Serializer):
    user = serializers.CharField(source="user.username")
    signed_at = serializers.DateTimeField()
    signed_hash = serializers.CharField(help_text="The version content hash this signature covers.")
    server_signature = serializers.CharField(
        help_text="The server's Ed25519 signature (hex) of the signature record's hash."
    )
    key_id = serializers.CharField(help_text="Id of the server key that signed.")


class ConditionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    node = serializers.CharField(source="node_identifier")
    text = serializers.CharField()
    state = serializers.ChoiceField(choices=["open", "closed"])
    closed_by = serializers.CharField(source="closed_by.username", allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    closing_note = serializers.CharField()


class VersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by.username")
    verdict = serializers.ChoiceField(choices=["approve", "approve_with_conditions", "reject"])
    reasons = serializers.CharField()
    conditions = ConditionSerializer(many=True)
    open_items = serializers.JSONField(
        help_text=(
            "What was open at sign-off: defeated and at-risk nodes, flags by severity, open "
            "challenges and conditions, GSN rule errors."
        )
    )
    note = serializers.CharField()
    previous_hash = serializers.CharField(
        help_text='The previous version\'s content hash ("" for the first).'
    )
    content_hash = serializers.CharField(
        help_text=(
            "sha256 of the canonical JSON of the signed content: snapshot, verdict, reasons, "
            "conditions, open items, note, signer, time and the previous hash."
        )
    )
    server_signature = serializers.CharField(
        help_text="The server's Ed25519 signature (hex) of the content hash."
    )
    key_id = serializers.CharField(help_text="Id of the server key that signed.")
    signatures = SignatureSerializer(many=True)
    signatures_required = serializers.IntegerField(
        source="case.project.required_signatures",
        help_text="Reviewer signatures the project requires for a sign-off.",
    )
    signed_off = serializers.SerializerMethodField(
        help_text="Whether the version has the signatures its project requires."
    )

    def get_signed_off(self, version) -> bool:
        return len(version.signatures.all()) >= version.case.project.required_signatures


class VersionDetailSerializer(VersionSerializer):
    snapshot = serializers.JSONField(
        help_text=(
            "Nodes, links, bindings, attestations, challenges, conditions and the latest "
            "assessment when signed off."
        )
    )


class ConditionInputSerializer(serializers.Serializer):
    node = serializers.CharField(max_length=100, help_text="Identifier of the node.")
    text = serializers.CharField(max_length=5000)


class VersionSignOffSerializer(serializers.Serializer):
    verdict = serializers.ChoiceField(
        choices=["approve", "approve_with_conditions", "reject"],
        default="approve",
        help_text=(
            "`approve` and `approve_with_conditions` are refused (409) while the case has GSN "
            "rule errors or open challenges; `reject` needs `reasons`."
        ),
    )
    reasons = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)
    conditions = ConditionInputSerializer(
        many=True,
        required=False,
        default=list,
        help_text="For `approve_with_conditions`: each condition pinned to a node.",
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class VersionDiffSerializer(serializers.Serializer):
    a = serializers.IntegerField()
    b = serializers.IntegerField()
    nodes_added = serializers.ListField(child=serializers.JSONField())
    nodes_removed = serializers.ListField(child=serializers.JSONField())
    nodes_changed = serializers.ListField(child=serializers.JSONField())
    status_changes = serializers.ListField(child=serializers.JSONField())
    overall_status = serializers.JSONField()
    flags_added = serializers.ListField(child=serializers.JSONField())
    flags_cleared = serializers.ListField(child=serializers.JSONField())
    links = serializers.JSONField(help_text="Links `added` and `removed`.")
    bindings = serializers.JSONField(
        help_text=(
            "Evidence bindings `added`, `removed` and `changed` (criterion, freshness, "
            "description), matched by node, kind and selector."
        )
    )
    runs = serializers.JSONField(
        help_text=(
            "Runs that count as evidence (ingested, current runs of the bound tasks): `added`, "
            "and `removed` when superseded, withdrawn or no longer selected."
        )
    )
    attestations = serializers.JSONField(help_text="Attestations `added`, `removed`, `changed`.")
    challenges = serializers.JSONField(
        help_text="Challenges `added`, `removed` and `changed` (state, response, resolution)."
    )
    conditions = serializers.JSONField(
        help_text="Sign-off conditions `added` and `changed` (open → closed)."
    )


# Review: comments and challenges on nodes.


class CommentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    node = serializers.CharField(source="node.identifier")
    author = serializers.CharField(source="author.username")
    text = serializers.CharField()
    created_at = serializers.DateTimeField()


class CommentCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=10000)


class ChallengeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    node = serializers.CharField(source="node.identifier")
    raised_by = serializers.CharField(source="raised_by.username")
    claim = serializers.CharField()
    state = serializers.ChoiceField(choices=["open", "resolved"])
    created_at = serializers.DateTimeField()
    resolved_by = serializers.CharField(source="resolved_by.username", allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolution = serializers.CharField()
    response = serializers.CharField(help_text="The authors' answer, if any.")
    responded_by = serializers.CharField(source="responded_by.username", allow_null=True)
    response_rejection = serializers.CharField(
        help_text="Why a reviewer did not accept the latest response."
    )


class ChallengeCreateSerializer(serializers.Serializer):
    claim = serializers.CharField(max_length=10000)


class ChallengeResolveSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=10000)


class ChallengeRespondSerializer(serializers.Serializer):
    response = serializers.CharField(max_length=10000)


class ChallengeRejectResponseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=10000)
