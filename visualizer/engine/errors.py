"""Every message the engine and the server give a user, in English, by code: `refuse(code, **params)`.

An `InputError` carries its code and parameters besides the English line, so a UI can say the same
thing in the user's language (its template for the code, filled with the same parameters) while
the CLI and the API print the English line. Templates use `str.format` fields.
What is left out: the translations (the UI's texts) and messages of the CLI's own flags.
"""



class InputError(ValueError):
    """Bad input from a user: the message is one English line, fit to show as is; `code` and `params`
    let a UI say the same in another language (its template for the code, filled with the params)."""

    def __init__(self, message, code=None, **params):
        super().__init__(message)
        self.code = code
        self.params = params


MESSAGES = {
    # Numbers and texts (limits.py, knobs.py).
    "not_text": "{name} must be text",
    "text_too_long": "{name} is too long: {length} characters (at most {limit})",
    "surrogate": "{name} holds an unpaired surrogate, which is not valid text",
    "not_number": "{name} must be a number written with the digits 0-9 (got {value!r})",
    "not_finite": "{name} must be a finite number (got {value!r})",
    "not_whole": "{name} must be a whole number written with the digits 0-9 (got {value!r})",
    "out_of_range": "{name} must be between {low} and {high} (got {value})",
    "out_of_range_above": "{name} must be above {low} and at most {high} (got {value})",
    # Conversations (conversation.py).
    "not_utf8": "the conversation is not UTF-8 text",
    "empty_conversation": "the conversation is empty: add at least one message",
    "invalid_json": "invalid JSON at line {line}, column {column}: {reason}",
    "json_too_deep": "the JSON is nested too deeply to be a conversation",
    "not_a_list": "the conversation must be a JSON list of messages",
    "too_many_messages": "too many messages: {count} (at most {limit})",
    "conversation_too_long": "the conversation is too long: {count} characters (at most {limit})",
    "message_not_object": "message {index} must be an object with a role and a content",
    "unknown_role": "message {index}: unknown role {role!r} (use system, user or assistant)",
    "no_content": "message {index} ({role}) has no content",
    "content_not_text": "message {index} ({role}): content must be text",
    "content_part_not_text": "message {index} ({role}): only text parts can be shown here, not {kind!r}",
    "message_too_long": "message {index} ({role}) is too long: {count} characters (at most {limit})",
    "message_surrogate": "message {index} ({role}) holds an unpaired surrogate, which is not valid text",
    "message_control": "message {index} ({role}) holds a control character {char}: binary data is not text",
    # Templates and prompts (chat_tokenizer.py, workspace.py).
    "no_template": "{model} has no chat template: give plain text instead",
    "template_refused": "the chat template refused this conversation: {reason}",
    "no_conversation": "no conversation yet: add at least one message",
    "prompt_too_long": "the prompt is {count} tokens long (at most {limit})",
    "context_exceeded": "the prompt ({count} tokens) plus {new} new tokens exceeds the model's context of {limit} tokens",
    "empty_prompt": "the prompt is empty: there is nothing to continue",
    # Decoding (engine.py, branch.py, lockstep.py, workspace.py).
    "needs_weights": "decoding needs model weights: {model} is loaded tokenizer-only",
    "message_ended": "the message has ended ({reason}): undo or reset to go on",
    "both_ended": "both messages have ended: reset to go on",
    "not_one_token": "{typed!r} is {count} tokens [{ids}]: type one token at a time (or #id)",
    "nothing_typed": "type a token first: its text, or #id",
    "bad_saved_state": "the saved sampling state does not fit this server",
    "no_decoder": "no decoder in this session: call /start first",
    # Inside the step (inspection.py).
    "no_lens": "{model} has no final norm the logit lens knows (norm, final_layernorm or ln_f)",
    # Sessions and load (serving/).
    "no_owner": "this request carries no session secret: reload the page, or use gradio_client",
    "no_session": "this request has no session: open the page, or call /start first",
    "session_expired": "session expired: call /start (or reload the page)",
    "not_your_session": "this session belongs to another browser or client",
    "too_many_pending": "too many actions waiting in this session ({limit}): wait for them to finish",
    "too_many_new_sessions": "too many new sessions from this address: try again in a minute",
    "server_full": "the server has as many sessions as it can hold: try again in a minute",
    "prefill_busy": "the server is busy reading other long prompts: try again in a few seconds",
    "pool_full": "the server's memory for conversations is full right now: try again in a moment",
    # Rooms (serving/rooms.py, serving/room.py).
    "room_not_found": "no open room has the code {room!r}: check the code (rooms close when idle)",
    "room_closed": "room {room} has been closed: ask for the new code if there is one",
    "too_many_rooms": "the server has as many rooms as it can hold ({limit}): close one first",
    "room_full": "room {room} is full ({limit} people)",
    "not_instructor": "only the instructor can do this: the instructor key does not match",
    "instructor_locked": "too many wrong instructor keys from this address: try again in a minute",
    "not_in_room": "join room {room} first",
    "room_guessing": "step {step} is for guessing: type a token instead of sampling",
    "room_sampling": "step {step} is for sampling: draw with your seed instead of guessing",
    "room_revealed": "step {step} is revealed: answers are closed until the next step",
    "room_too_fast": "too many answers: at most {limit} a minute",
    "room_bad_mode": "the mode must be guess or sample (got {value!r})",
    "room_bad_choice": "the choice must be greedy, top or a token id (got {value!r})",
    "room_no_answers": "nobody has answered step {step} yet: commit greedy or a token id",
    "room_ended": "the room's message has ended ({reason}): open a new room to go on",
}


def refuse(code, error_class=InputError, **params):
    """An error (of `error_class`, an InputError) with its English line made from the code's template."""
    return error_class(MESSAGES[code].format(**params), code, **params)
