"""The work itself, without Flask request objects: text, importing, exporting."""
