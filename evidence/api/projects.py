"""REST API for projects: the caller's projects, one project, its members, and the shares it
gives and receives (owners of the sharing project create and revoke them). Thin:
evidence.projects does the work."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from evidence import projects
from evidence.choices import ProjectRole
from evidence.models import Project, ProjectMembership, Share


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role in the project.")

    class Meta:
        model = Project
        fields = ["id", "name", "description", "created_at", "role"]

    def get_role(self, project) -> str | None:
        return self.context.get("roles", {}).get(project.pk)


class ProjectMemberSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    role = serializers.ChoiceField(
        choices=ProjectRole.choices,
        help_text="Applies to every case of the project unless the case gives another role.",
    )


class ShareSerializer(serializers.ModelSerializer):
    from_project = serializers.CharField(source="from_project.name", read_only=True)
    to_project = serializers.CharField(source="to_project.name", read_only=True)
    created_by = serializers.CharField(
        source="created_by.username", default=None, allow_null=True, read_only=True
    )
    revoked_by = serializers.CharField(
        source="revoked_by.username", default=None, allow_null=True, read_only=True
    )
    runs = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Share
        fields = [
            "id",
            "from_project",
            "to_project",
            "runs",
            "selector",
            "note",
            "created_by",
            "created_at",
            "revoked_by",
            "revoked_at",
        ]


class ShareCreateSerializer(serializers.Serializer):
    to_project = serializers.CharField(
        help_text="Name of the project whose cases may use the runs."
    )
    runs = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        default=list,
        help_text="Ids of runs of this project to share.",
    )
    selector = serializers.JSONField(
        required=False,
        default=dict,
        help_text='Or every run (now and later) matching {"task": name or list, "model": name}.',
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")


def _refused(exc: projects.ProjectRefused) -> Response:
    return Response({"detail": exc.message}, status=exc.status_code)


def _roles(user) -> dict[int, str]:
    return dict(ProjectMembership.objects.filter(user=user).values_list("project_id", "role"))


class ProjectListApi(APIView):
    @extend_schema(
        responses=ProjectSerializer(many=True),
        description="The projects you are a member of, with your role in each. A project owns "
        "cases, evaluation runs and API tokens; create one with `manage.py create_project`.",
    )
    def get(self, request):
        found = projects.projects_for_user(user=request.user)
        context = {"roles": _roles(request.user)}
        return Response(ProjectSerializer(found, many=True, context=context).data)


class ProjectDetailApi(APIView):
    @extend_schema(
        responses={200: ProjectSerializer, 404: OpenApiResponse(description="Not a member.")},
        description="One of your projects. 404 unless you are a member.",
    )
    def get(self, request, project_id: int):
        try:
            project = projects.project_for_user(user=request.user, project_id=project_id)
        except projects.ProjectRefused as exc:
            return _refused(exc)
        context = {"roles": _roles(request.user)}
        return Response(ProjectSerializer(project, context=context).data)


class ProjectMembersApi(APIView):
    @extend_schema(
        responses={
            200: ProjectMemberSerializer(many=True),
            404: OpenApiResponse(description="Not a member."),
        },
        description="The members of the project and their roles, owners first. A member has "
        "this role on every case of the project unless the case's own members list gives "
        "them another.",
    )
    def get(self, request, project_id: int):
        try:
            project = projects.project_for_user(user=request.user, project_id=project_id)
        except projects.ProjectRefused as exc:
            return _refused(exc)
        members = projects.project_members(project=project)
        return Response(ProjectMemberSerializer(members, many=True).data)


class ProjectSharesApi(APIView):
    @extend_schema(
        responses={
            200: ShareSerializer(many=True),
            404: OpenApiResponse(description="Not a member."),
        },
        description="The shares this project gives (its runs used by another project's cases) "
        "and receives, revoked ones included, newest first. Every member may read them.",
    )
    def get(self, request, project_id: int):
        try:
            project = projects.project_for_user(user=request.user, project_id=project_id)
        except projects.ProjectRefused as exc:
            return _refused(exc)
        return Response(
            ShareSerializer(projects.shares_of_project(project=project), many=True).data
        )

    @extend_schema(
        request=ShareCreateSerializer,
        responses={
            201: ShareSerializer,
            400: OpenApiResponse(
                description="Unknown project to share with, runs not of this project, or "
                "neither/both of `runs` and `selector`."
            ),
            403: OpenApiResponse(description="Only owners of the project share its runs."),
            404: OpenApiResponse(description="Not a member."),
        },
        description="Share runs of this project with another project: its cases' bindings may "
        "then use them, and the members of that project (and of its cases) may read them. "
        "Either `runs` (ids) or a `selector` (`task`, optional `model`; matches later runs "
        "too). Owners only; recorded with who and when.",
    )
    def post(self, request, project_id: int):
        data = ShareCreateSerializer(data=request.data)
        try:
            project = projects.project_for_user(user=request.user, project_id=project_id)
            data.is_valid(raise_exception=True)
            share = projects.share_create(
                actor=request.user,
                from_project=project,
                to_project_name=data.validated_data["to_project"],
                run_ids=data.validated_data["runs"],
                selector=data.validated_data["selector"],
                note=data.validated_data["note"],
            )
        except projects.ProjectRefused as exc:
            return _refused(exc)
        return Response(ShareSerializer(share).data, status=status.HTTP_201_CREATED)


class ShareRevokeApi(APIView):
    @extend_schema(
        request=None,
        responses={
            200: ShareSerializer,
            403: OpenApiResponse(description="Only owners of the sharing project revoke."),
            404: OpenApiResponse(description="No such share of a project of yours."),
        },
        description="Stop sharing: the other project's cases no longer use these runs from "
        "their next assessment, and its members no longer read them. The share stays listed "
        "with who revoked it and when.",
    )
    def post(self, request, project_id: int, share_id: int):
        try:
            project = projects.project_for_user(user=request.user, project_id=project_id)
            share = Share.objects.filter(pk=share_id, from_project=project).first()
            if share is None:
                raise projects.ProjectRefused(
                    f"Project {project.name!r} gives no share {share_id}.", 404
                )
            share = projects.share_revoke(actor=request.user, share=share)
        except projects.ProjectRefused as exc:
            return _refused(exc)
        return Response(ShareSerializer(share).data)
