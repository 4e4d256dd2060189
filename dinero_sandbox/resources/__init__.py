"""The Dinero operations added on top of the original endpoint modules, one module per tag of Dinero's
OpenAPI spec (``accounts``, ``attachments``, ``contact_notes`` (Contacts), ``state_of_account``,
``countries``, ``files``, ``invoices``, ``ledger_items``, ``purchase_credit_notes``, ``purchase_payments``,
``purchase_vouchers``, ``reminders``, ``reports``, ``sales``, ``sales_credit_notes``, ``sms``,
``trade_offers``, ``webhooks``), with the shared machinery in ``common`` (lookups, Timestamps, stored
entries, mailouts), ``payments`` (payments of every voucher kind), ``tables`` (the added column tables),
``registry`` (the blueprints app.py registers) and ``coverage`` (which spec operations are routed).

Kept free of imports: ``orgdata`` imports ``resources.tables`` while the package loads."""
