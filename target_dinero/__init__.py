"""target-dinero: load Singer records into Dinero as invoices, vouchers, daily sales, contacts, products."""
