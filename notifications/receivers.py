"""Events from the other apps' writes, turned into notifications. Connected in
NotificationsConfig.ready(); the apps that write never import this one."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.urls import reverse

from evidence.models import EvaluationRun
from evidence.signals import run_failed
from notifications import events, services
from notifications.choices import EventKind
from safetycase import selectors as case_selectors
from safetycase.models import Assessment, Challenge, Comment, SafetyCase, Version


def status_changed(sender, instance: Assessment, created: bool, **kwargs) -> None:
    if not created:
        return
    lines = events.status_change_lines((instance.changes or {}).get("nodes") or [])
    if not lines:
        return
    case = instance.case
    services.publish(
        events.Event(
            kind=EventKind.STATUS_CHANGED,
            title=f"{case.name}: {len(lines)} node(s) changed status",
            lines=lines,
            url=case.get_absolute_url(),
            case_id=case.pk,
            project_id=case.project_id,
            data={
                "assessment": instance.pk,
                "trigger": instance.trigger,
                "overall_status": instance.overall_status,
                "changes": [
                    change
                    for change in instance.changes.get("nodes", [])
                    if change["identifier"] in lines
                ],
            },
        )
    )


def _node_event(kind: str, title: str, instance, actor_id: int, sentence: str) -> events.Event:
    case = instance.case
    identifier = instance.node.identifier
    return events.Event(
        kind=kind,
        title=f"{case.name}: {title} on {identifier}",
        lines={identifier: f"{identifier}: {sentence}"},
        url=instance.node.get_absolute_url(),
        case_id=case.pk,
        project_id=case.project_id,
        actor_id=actor_id,
        data={"node": identifier, "id": instance.pk},
    )


def comment_posted(sender, instance: Comment, created: bool, **kwargs) -> None:
    if created:
        sentence = f"{instance.author} commented: {instance.text[:300]}"
        services.publish(
            _node_event(EventKind.COMMENT, "comment", instance, instance.author_id, sentence)
        )


def challenge_raised(sender, instance: Challenge, created: bool, **kwargs) -> None:
    if created:
        sentence = f"{instance.raised_by} challenged: {instance.claim[:300]}"
        services.publish(
            _node_event(EventKind.CHALLENGE, "challenge", instance, instance.raised_by_id, sentence)
        )


def signed_off(sender, instance: Version, created: bool, **kwargs) -> None:
    if not created:
        return
    case = instance.case
    services.publish(
        events.Event(
            kind=EventKind.SIGNED_OFF,
            title=f"{case.name}: version {instance.number} signed off",
            lines={"": f"Version {instance.number} was signed off by {instance.created_by}."},
            url=reverse("version_list", args=[case.pk]),
            case_id=case.pk,
            project_id=case.project_id,
            actor_id=instance.created_by_id,
            data={"version": instance.number, "content_hash": instance.content_hash},
        )
    )


def ingestion_failed(sender, run: EvaluationRun, reason: str, **kwargs) -> None:
    """Watchers of every case whose bindings select the run, and the uploader, hear of it."""
    sentence = f"Run {run.pk} ({run.task or 'unknown task'}) failed to ingest: {reason}"
    url = reverse("run_detail", args=[run.pk])
    data = {"run": run.pk, "task": run.task, "model": run.model, "error": reason[:1000]}
    for case in SafetyCase.objects.filter(pk__in=case_selectors.cases_bound_to_run(run=run)):
        services.publish(
            events.Event(
                kind=EventKind.RUN_FAILED,
                title=f"{case.name}: an evaluation run failed to ingest",
                lines={"": sentence},
                url=url,
                case_id=case.pk,
                # The run's own project hears of it once, through the uploader's event below.
                project_id=case.project_id if case.project_id != run.project_id else None,
                data=data,
            )
        )
    uploader_id = run.log_file.uploaded_by_id if run.log_file_id else None
    services.publish(
        events.Event(
            kind=EventKind.RUN_FAILED,
            title="An evaluation run you uploaded failed to ingest",
            lines={"": sentence},
            url=url,
            project_id=run.project_id,
            also_notify=frozenset({uploader_id}) if uploader_id else frozenset(),
            dedupe_key=f"run-failed:{run.pk}",
            data=data,
        )
    )


def connect() -> None:
    post_save.connect(status_changed, sender=Assessment, dispatch_uid="notify.status")
    post_save.connect(comment_posted, sender=Comment, dispatch_uid="notify.comment")
    post_save.connect(challenge_raised, sender=Challenge, dispatch_uid="notify.challenge")
    post_save.connect(signed_off, sender=Version, dispatch_uid="notify.version")
    run_failed.connect(ingestion_failed, dispatch_uid="notify.run_failed")
