from django import template

from notifications import selectors

register = template.Library()


@register.inclusion_tag("notifications/_watch_form.html", takes_context=True)
def watch_form(context, case, node_identifier: str = ""):
    """A Watch / Unwatch button for the case or one node of it."""
    request = context["request"]
    watched = request.user.is_authenticated and node_identifier in selectors.watched_subjects(
        user=request.user, case=case
    )
    return {
        "case": case,
        "node": node_identifier,
        "watched": watched,
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
    }
