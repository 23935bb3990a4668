"""A client generated from schemas/openapi.json by openapi-python-client, used as a business
would use it: send an SMS and read it back to `delivered`, list messages page by page with
the cursor, and get a typed 422 back for a message the channel refuses.

tests/contract/run generates the client into `switchboard_client`, starts a sandbox gateway
and runs this against it over real HTTP (SWITCHBOARD_URL, SWITCHBOARD_KEY)."""

import os
import sys
import time

from switchboard_client import AuthenticatedClient
from switchboard_client.api.messages import get_message, list_messages, send_message
from switchboard_client.models import (
    Accepted,
    Content,
    ErrorBody,
    MessagePage,
    MessageView,
    NewMessage,
    Recipient,
    Status,
)

client = AuthenticatedClient(
    base_url=os.environ["SWITCHBOARD_URL"],
    token=os.environ["SWITCHBOARD_KEY"],
    raise_on_unexpected_status=True,
)


def check(condition, message):
    if not condition:
        print(f"generated client: {message}", file=sys.stderr)
        sys.exit(1)


def send_sms(text):
    answer = send_message.sync(
        client=client,
        body=NewMessage(
            channel="sms",
            to=Recipient(phone="+14155550123"),
            content=Content(text=text),
        ),
    )
    check(isinstance(answer, Accepted), f"send answered {answer!r}, not Accepted")
    return answer.id


# 1. Send an SMS and read it back until the sandbox carrier reports it delivered.
sent = send_sms("hello from a generated client")
deadline = time.monotonic() + 30
while True:
    view = get_message.sync(client=client, id=sent)
    check(isinstance(view, MessageView), f"get answered {view!r}, not MessageView")
    if view.status == Status.DELIVERED:
        break
    check(view.status != Status.FAILED, f"message {sent} failed: {view.to_dict()}")
    check(time.monotonic() < deadline, f"message {sent} still {view.status} after 30 s")
    time.sleep(0.2)
check(view.deliveries and view.deliveries[0].status == Status.DELIVERED, "no delivered delivery")

# 2. List every message two at a time, following next_cursor, and find each one sent.
ids = {sent} | {send_sms(f"page test {i}") for i in range(4)}
seen, cursor, pages = [], None, 0
while True:
    kwargs = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
    page = list_messages.sync(client=client, **kwargs)
    check(isinstance(page, MessagePage), f"list answered {page!r}, not MessagePage")
    check(len(page.data) <= 2, f"a page of {len(page.data)} with limit 2")
    seen += [m.id for m in page.data]
    pages += 1
    cursor = page.next_cursor if isinstance(page.next_cursor, str) else None
    if cursor is None:
        break
check(ids <= set(seen), f"listing missed {ids - set(seen)}")
check(len(seen) == len(set(seen)), "a message was listed twice")
check(pages >= 3, f"{len(seen)} messages in {pages} pages of 2")

# 3. A message the channel refuses: a typed 422 naming the field.
refused = send_message.sync_detailed(
    client=client,
    body=NewMessage(channel="sms", to=Recipient(phone="call me"), content=Content(text="hi")),
)
check(refused.status_code == 422, f"refused with {refused.status_code}, not 422")
check(isinstance(refused.parsed, ErrorBody), f"422 parsed as {refused.parsed!r}")
check(refused.parsed.error.code == "invalid_format", f"code {refused.parsed.error.code}")
check(refused.parsed.error.field == "to.phone", f"field {refused.parsed.error.field}")

print(f"generated client: sent and delivered {sent}; listed {len(seen)} messages in {pages} pages; typed 422 on to.phone")
