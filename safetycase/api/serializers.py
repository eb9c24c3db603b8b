from __future__ import annotations

from rest_framework import serializers

from safetycase.choices import LinkType, NodeType
from safetycase.models import Link, Node, SafetyCase


class NodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Node
        fields = ["identifier", "type", "statement", "undeveloped", "module", "attributes"]


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
    class Meta:
        model = SafetyCase
        fields = [
            "id",
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
