"""Public library: a member verifies, then checks loans, renews books and places or moves holds."""

# Titles already on loan or on hold, and titles a member may newly ask to hold, are kept apart so a new
# hold can never be mistaken for one that already exists.
SHELF = ["The Quiet Harbor", "Stars over Kestrel Bay", "A Short History of Salt", "The Ember Garden",
         "Notes from the Prairie", "The Cartographer's Daughter", "Learning Python the Slow Way",
         "Winter at Juniper Hall"]
NEW_TITLES = ["The Glass Orchard", "Rivers of Indigo", "The Last Lighthouse Keeper", "Cooking with Cast Iron",
              "Midnight in Onyx City", "The Birdwatcher's Almanac", "Small Gods of the Tundra"]
BRANCHES = ["Central Branch", "Eastside Branch", "Lakeview Branch", "Hillcrest Branch"]

DOMAIN = {
    "name": "library",
    "title": "Riverton Public Library",
    "owner": "member",
    "verify": {"tool": "verify_member", "field": "home_address"},
    "entities": {
        "member": {
            "key": "member_id",
            "id_prefix": "LIB",
            "count": [3, 5],
            "label": "library card number",
            "keywords": ["library card", "card number", "member id"],
            "fields": {
                "name": {"gen": "person_name"},
                "home_address": {"gen": "address", "label": "home address",
                                 "keywords": ["home address", "address on file", "where you live"]},
                "email": {"gen": "email"},
            },
        },
        "loan": {
            "key": "loan_id",
            "id_prefix": "LO",
            "owner_field": "member_id",
            "per_owner": [2, 4],
            "noun": "loan",
            "label": "loan number",
            "keywords": ["loan number", "which loan", "which checkout"],
            "fields": {
                "title": {"gen": "choice", "values": SHELF, "label": "book title"},
                "due_date": {"gen": "date", "min_days": 1, "max_days": 28, "label": "due date"},
                "status": {"gen": "choice", "values": ["checked out", "overdue"]},
                "renewals": {"gen": "integer", "min": 0, "max": 1},
            },
        },
        "hold": {
            "key": "hold_id",
            "id_prefix": "HD",
            "owner_field": "member_id",
            "per_owner": [1, 3],
            "noun": "hold",
            "label": "hold number",
            "keywords": ["hold number", "which hold"],
            "fields": {
                "title": {"gen": "choice", "values": SHELF, "label": "book title"},
                "pickup_branch": {"gen": "choice", "values": BRANCHES, "label": "pickup branch"},
                "status": {"gen": "choice", "values": ["waiting", "ready for pickup"]},
            },
        },
    },
    "tools": [
        {"name": "verify_member", "op": "verify", "entity": "member",
         "description": "Verify a member's identity from their library card number and home address. Required "
                        "before looking at or changing any loan or hold."},
        {"name": "get_loan", "op": "get", "entity": "loan",
         "description": "Get one loan: book title, due date, status and number of renewals so far."},
        {"name": "list_loans", "op": "list", "entity": "loan", "show": ["title", "due_date"],
         "description": "List a verified member's current loans with title and due date."},
        {"name": "get_hold", "op": "get", "entity": "hold",
         "description": "Get one hold: book title, pickup branch and status."},
        {"name": "renew_loan", "op": "set", "entity": "loan", "set": {"status": "renewed"},
         "requires": {"field": "status", "allowed": ["checked out"]},
         "goal": "renew {ref}",
         "description": "Renew a loan that is not overdue for another loan period."},
        {"name": "change_pickup_branch", "op": "update", "entity": "hold", "field": "pickup_branch",
         "arg": "new_branch", "keywords": ["pickup branch", "which branch", "new branch", "branch"],
         "requires": {"field": "status", "allowed": ["waiting"]},
         "goal": "have {ref} sent to the {value}",
         "goal_hidden": "change where I pick up {ref}",
         "description": "Change the branch where a waiting hold will be delivered for pickup."},
        {"name": "place_hold", "op": "create", "entity": "hold",
         "args": {
             "title": {"gen": "choice", "values": NEW_TITLES, "label": "book title",
                       "keywords": ["book title", "title", "name of the book"]},
             "pickup_branch": {"gen": "choice", "values": BRANCHES, "label": "pickup branch",
                               "keywords": ["pickup branch", "which branch", "branch"]},
         },
         "defaults": {"status": "waiting"},
         "goal": "put a book on hold",
         "description": "Place a hold on a book for a verified member, for pickup at the chosen branch."},
    ],
    "lookups": [
        {"tool": "get_loan", "field": "due_date", "goal": "check when {ref} is due back"},
        {"tool": "get_loan", "field": "title", "goal": "find out which book {ref} is for"},
        {"tool": "get_hold", "field": "status", "goal": "check whether {ref} is ready to collect"},
        {"tool": "get_hold", "field": "pickup_branch", "goal": "confirm which branch {ref} will be waiting at"},
    ],
    "distractors": [
        {"name": "pay_fines", "kind": "write",
         "description": "Charge a member's card on file for outstanding fines.",
         "parameters": {"member_id": "string", "amount": "number"}},
        {"name": "reserve_study_room", "kind": "write",
         "description": "Reserve a study room at a branch.",
         "parameters": {"member_id": "string", "branch": "string", "day": "string"}},
        {"name": "search_events", "kind": "read",
         "description": "Upcoming readings, classes and children's events at a branch.",
         "parameters": {"branch": "string"}},
    ],
    "restrictions": [
        {"tool": "list_loans", "purpose": "guess which loan the member means",
         "reason": "members often borrow several books at once and renewing the wrong one leaves the other overdue"},
        {"tool": "pay_fines", "purpose": "settle fines as part of a renewal",
         "reason": "fines are only charged with the member's explicit request and a receipt from the circulation desk"},
        {"tool": "place_hold", "purpose": "keep a borrowed book longer by putting it on hold again",
         "reason": "it jumps the queue ahead of members who are already waiting for that book"},
    ],
    "policies": [
        "Overdue items cannot be renewed online; the member must return them first.",
        "Never tell one member what another member has borrowed or reserved.",
    ],
}
