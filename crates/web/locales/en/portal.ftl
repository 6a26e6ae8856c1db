# Gongdan UI — English: the customers' portal.

## Portal
portal-my-requests = My requests
portal-org-requests = My organisation's requests
portal-new-request = Submit a request
portal-mine = Mine
portal-organization = My organisation
portal-all = All
portal-open = In progress
portal-solved = Solved
portal-none = You have no requests yet.
portal-submit = Submit
portal-reply = Your reply
portal-send = Send
portal-mark-solved = My problem is solved
portal-closed-follow-up = This request is closed: a reply opens a new request linked to it.
portal-merged = This request was joined with request
step-received = Received
step-taken = Taken by { $group }
step-handling = Being handled
step-waiting = Waiting for you
step-solved = Solved
step-closed = Closed
step-merged = Joined with #{ $ticket }
