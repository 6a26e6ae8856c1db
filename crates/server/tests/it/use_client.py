"""Uses the client openapi-python-client generated from Gongdan's OpenAPI document:
creates a ticket, finds it in a listing and raises its priority.

Arguments: the directory holding the generated `gongdan_client` package, the server's base
URL, an API token and a customer's id to file the ticket for."""

import sys

sys.path.insert(0, sys.argv[1])

from gongdan_client import AuthenticatedClient  # noqa: E402
from gongdan_client.api.tickets import create_ticket, get_ticket, list_tickets, update_ticket  # noqa: E402
from gongdan_client.models import Priority, Problem, TicketCreate, TicketUpdate  # noqa: E402

base, token, customer = sys.argv[2], sys.argv[3], int(sys.argv[4])
client = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)

created = create_ticket.sync(
    client=client,
    body=TicketCreate(subject="打印机卡纸 (generated client)", requester_id=customer, tags=["generated"]),
)
assert not isinstance(created, Problem), created
assert created.priority == Priority.NORMAL, created.priority

listed = list_tickets.sync(client=client, tag="generated")
assert not isinstance(listed, Problem), listed
assert [t.id for t in listed.items] == [created.id], listed

updated = update_ticket.sync(created.id, client=client, body=TicketUpdate(priority=Priority.HIGH, version=created.version))
assert not isinstance(updated, Problem), updated
assert updated.priority == Priority.HIGH and updated.version == created.version + 1, updated

stale = update_ticket.sync_detailed(created.id, client=client, body=TicketUpdate(priority=Priority.LOW, version=created.version))
assert stale.status_code == 409 and isinstance(stale.parsed, Problem), stale
assert stale.parsed.code == "version_conflict", stale.parsed

again = get_ticket.sync(created.id, client=client)
assert again.priority == Priority.HIGH, again
print("generated client: created, listed and updated ticket", created.id)
