"""Customers: the cluster view of profiles, search, creation, explicit merge and unmerge.

The package, by subject: `customers` (the `Customer` view, finding, searching, adding and
counting customers), `merging` (explicit merge and unmerge, and the merge history), `members`
(member profiles and their customers, identifier values, search text), `counters` (the order
facts commerce reports: cancellations and changed totals) and `contacts` (the light read of name,
e-mail and phone for lists of orders).
"""

from phygital.identity.service.contacts import Contact, contacts_of
from phygital.identity.service.counters import (
    OrderFact,
    forget_orders,
    move_order,
    revise_order_amount,
)
from phygital.identity.service.customers import (
    Customer,
    count_customers,
    create_customer,
    find_by_identifier,
    get_customer,
    load_customers,
    name_of,
    parse_identifiers,
    root_id,
    search,
)
from phygital.identity.service.members import (
    identifier_values,
    member_ids_of,
    roots_of,
)
from phygital.identity.service.merging import merge, merge_history, unmerge

__all__ = [
    "Contact",
    "Customer",
    "OrderFact",
    "contacts_of",
    "count_customers",
    "create_customer",
    "find_by_identifier",
    "forget_orders",
    "get_customer",
    "identifier_values",
    "load_customers",
    "member_ids_of",
    "merge",
    "merge_history",
    "move_order",
    "name_of",
    "parse_identifiers",
    "revise_order_amount",
    "root_id",
    "roots_of",
    "search",
    "unmerge",
]
