"""External providers: the coach's calendar (Google or local) and WhatsApp (AiSensy or local).

Import the submodules directly (``coach_sessions.providers.calendar``/``.whatsapp``); this package
re-exports nothing so that code needing only WhatsApp does not pay for importing the Google client.
"""
