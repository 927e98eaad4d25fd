"""Atrium's domain: the business rules, whoever invokes them (the API in api/, BPMN service tasks in
engine/handlers/, timers and the scheduler, the `atrium` CLI). Each rule has one home here; callers own the
transaction, and a change writes its side effects (processes started or ended, its audit row) in it.

Shared by every layer:
- settings: ATRIUM_* environment settings.  clock: the one source of time (injectable in tests).
- errors: domain errors, each mapped to one problem type by the API.  i18n: languages and formatting.
- audit: the audit trail's one writer (`record`, `changes` with personal fields masked, the actors).
- cli: the `atrium` command.

Domain modules, by concept:
- Clients: clients (visibility; create, update, delete, restore, each keeping the follow-up cycle and
  writing its audit row), client_import, client_merge and client_export (in bulk), follow_up_cycles (an
  active client's one `follow_up` instance), onboarding (the client_onboarding process's rules: conflict
  check, opening the approved client), disclosure (what process data may name of clients a reader may
  not see), masking (contact data and sensitive custom fields masked by role; an audited reveal).
- Client records and their processes: client_records (contacts, engagements, hand-recorded follow-ups
  and feedback), complaints and service_requests (recording one starts its process; each step of the
  process is a function here; due times fixed at receipt), follow_ups (the follow_up process's steps),
  escalation (the one "manager of" rule and who is told), record_processes (which processes a record,
  not a person, starts).
- Accounts and the firm: accounts, login_throttle, employees, knowledge (the knowledge base),
  firm_settings, choices (people and clients a form may name).
- Notifications: notifications (queueing one, reading them; audited), mailer (sending the outbox).
- Data protection: backup (the backup archive and its restore, scheduled backups with retention),
  encryption (the master key, key rotation; the cipher itself is storage/crypto.py), audit_chain (the
  audit trail's hash chain: verify, the daily check, retention behind signed checkpoints),
  second_factor (TOTP enrolment, codes, recovery codes).

engine/handlers/ only translate a service-task call into one of these functions; the API's views only
parse, authorise and call them."""
