"""How the migration to projects groups existing data (used by evidence 0002 and safetycase
0009, which must agree): one project per set of cases that share members.

Before projects, every signed-in user saw every run and every case could use every run. The
migration keeps each team's cases together (cases linked by a common member form one set, one
project named after its oldest case), makes the owners of those cases owners of the project,
puts each run into the project of its uploader's cases (the first project when the uploader
is in none or in several), and, so that no verdict changes silently, shares every existing run
with every other project (shares owners can revoke).
"""

from __future__ import annotations

DEFAULT_PROJECT = "default"


def case_groups(apps) -> list[tuple[str, list[int]]]:
    """(project name, case ids) per set of cases linked by common members, oldest first."""
    SafetyCase = apps.get_model("safetycase", "SafetyCase")
    Membership = apps.get_model("safetycase", "Membership")
    names = dict(SafetyCase.objects.order_by("pk").values_list("pk", "name"))
    parent = {pk: pk for pk in names}

    def find(pk: int) -> int:
        while parent[pk] != pk:
            parent[pk] = parent[parent[pk]]
            pk = parent[pk]
        return pk

    first_case_of_user: dict[int, int] = {}
    for case_id, user_id in Membership.objects.order_by("pk").values_list("case_id", "user_id"):
        other = first_case_of_user.setdefault(user_id, case_id)
        parent[find(case_id)] = find(other)
    groups: dict[int, list[int]] = {}
    for pk in names:
        groups.setdefault(find(pk), []).append(pk)
    result, taken = [], set()
    for ids in sorted(groups.values(), key=min):
        name = names[min(ids)][:100]
        if name in taken:
            name = f"{name[:90]} ({min(ids)})"
        taken.add(name)
        result.append((name, sorted(ids)))
    return result
