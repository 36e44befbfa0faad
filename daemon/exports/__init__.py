"""Importing exported chats (``llmojid-ctl import --export``): claude.ai, ChatGPT, Gemini, OpenHands.

``sources`` finds and recognises the files (folders, zips, single files), ``jsonstream`` streams large arrays,
one module per format turns a conversation into journal rows (pure), ``reading`` drives them per unit, and
``component`` serves the request: check everything, then write.
"""
