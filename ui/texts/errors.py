"""The engine's and the server's error messages in the UI's languages, keyed `error_<code>`.

English comes from the engine's own templates (`engine/errors.py`), so it is written once; Spanish
uses the same `str.format` fields. The UI shows a field name (seed, top-k, ...) in the user's
language through `field_<name>` keys, and an error with a `reason` its own `error_<code>_<reason>` where there is one
(a message ended by its end marker or by max new tokens: what to do differs), else the reason through
`reason_<reason>` (the JSON parser's English reasons).
What is left out: the CLI's own flag messages (English only, as the CLI is).
"""

from visualizer.engine.errors import MESSAGES

EN = {f"error_{code}": template for code, template in MESSAGES.items()}
EN.update({"field_seed": "seed", "field_top": "candidates", "field_steps": "steps", "field_token id": "token id",
           "field_max new tokens": "max new tokens", "field_the typed token": "the typed token",
           "field_layer": "layer", "field_head": "head", "field_temperature": "temperature",
           "field_repetition-penalty": "repetition penalty",
           "error_decoder_setting": "{error} (a setting of tab 4 · Decoder, which Compare and Inside the step follow)",
           "error_message_ended_eos": "the message has ended (the model wrote its end marker): undo or reset to go on",
           "error_message_ended_max_tokens": "the message has reached max new tokens: raise it, undo or reset to go "
                                             "on"})

ES = {
    "error_not_text": "{name} debe ser texto",
    "error_text_too_long": "{name} es demasiado largo: {length} caracteres (como máximo {limit})",
    "error_surrogate": "{name} contiene un sustituto UTF-16 suelto, que no es texto válido",
    "error_not_number": "{name} debe ser un número escrito con las cifras 0-9 (se recibió {value!r})",
    "error_not_finite": "{name} debe ser un número finito (se recibió {value!r})",
    "error_not_whole": "{name} debe ser un número entero escrito con las cifras 0-9 (se recibió {value!r})",
    "error_out_of_range": "{name} debe estar entre {low} y {high} (se recibió {value})",
    "error_out_of_range_above": "{name} debe ser mayor que {low} y como máximo {high} (se recibió {value})",
    "error_not_utf8": "la conversación no es texto UTF-8",
    "error_decoder_setting": "{error} (un ajuste de la pestaña 4 · Decodificador, que siguen Comparar y Dentro del "
    "paso)",
    "error_empty_conversation": "la conversación está vacía: añade al menos un mensaje",
    "error_invalid_json": "JSON no válido en la línea {line}, columna {column}: {reason}",
    "error_json_too_deep": "el JSON está anidado a demasiada profundidad para ser una conversación",
    "error_not_a_list": "la conversación debe ser una lista JSON de mensajes",
    "error_too_many_messages": "demasiados mensajes: {count} (como máximo {limit})",
    "error_conversation_too_long": "la conversación es demasiado larga: {count} caracteres (como máximo {limit})",
    "error_message_not_object": "el mensaje {index} debe ser un objeto con un rol y un contenido",
    "error_unknown_role": "mensaje {index}: rol desconocido {role!r} (usa system, user o assistant)",
    "error_no_content": "el mensaje {index} ({role}) no tiene contenido",
    "error_content_not_text": "mensaje {index} ({role}): el contenido debe ser texto",
    "error_content_part_not_text": "mensaje {index} ({role}): aquí solo se pueden mostrar partes de texto, no {kind!r}",
    "error_message_too_long": "el mensaje {index} ({role}) es demasiado largo: {count} caracteres (como máximo {limit})",
    "error_message_surrogate": "el mensaje {index} ({role}) contiene un sustituto UTF-16 suelto, que no es texto válido",
    "error_message_control": "el mensaje {index} ({role}) contiene un carácter de control {char}: "
                             "los datos binarios no son texto",
    "error_no_template": "{model} no tiene plantilla de chat: usa texto plano",
    "error_template_refused": "la plantilla de chat ha rechazado esta conversación: {reason}",
    "error_no_conversation": "aún no hay conversación: añade al menos un mensaje",
    "error_prompt_too_long": "el prompt tiene {count} tokens (como máximo {limit})",
    "error_context_exceeded": "el prompt ({count} tokens) más {new} tokens nuevos supera el contexto del modelo "
                              "de {limit} tokens",
    "error_empty_prompt": "el prompt está vacío: no hay nada que continuar",
    "error_needs_weights": "para decodificar hacen falta los pesos del modelo: {model} está cargado solo con el tokenizer",
    "error_message_ended": "el mensaje ha terminado ({reason}): deshaz o reinicia para seguir",
    "error_message_ended_eos": "el mensaje ha terminado (el modelo escribió su etiqueta de cierre): deshaz o reinicia "
                               "para seguir",
    "error_message_ended_max_tokens": "el mensaje ha llegado al máximo de tokens nuevos: súbelo, deshaz o reinicia "
                                      "para seguir",
    "error_both_ended": "los dos mensajes han terminado: reinicia para seguir",
    "error_not_one_token": "{typed!r} son {count} tokens [{ids}]: escribe un token cada vez (o #id)",
    "error_nothing_typed": "escribe primero un token: su texto, o #id",
    "error_bad_saved_state": "el estado de sampling guardado no encaja en este servidor",
    "error_no_decoder": "no hay decodificador en esta sesión: llama antes a /start",
    "error_no_lens": "{model} no tiene una normalización final que la lente de logits conozca "
                     "(norm, final_layernorm o ln_f)",
    "error_no_owner": "esta petición no trae el secreto de su sesión: recarga la página o usa gradio_client",
    "error_no_session": "esta petición no tiene sesión: abre la página o llama antes a /start",
    "error_session_expired": "la sesión ha caducado: llama a /start (o recarga la página)",
    "error_not_your_session": "esta sesión pertenece a otro navegador o cliente",
    "error_too_many_pending": "demasiadas acciones esperando en esta sesión ({limit}): espera a que terminen",
    "error_too_many_new_sessions": "demasiadas sesiones nuevas desde esta dirección: prueba dentro de un minuto",
    "error_server_full": "el servidor tiene todas las sesiones que puede atender: prueba dentro de un minuto",
    "error_prefill_busy": "el servidor está ocupado leyendo otros prompts largos: prueba dentro de unos segundos",
    "error_pool_full": "la memoria del servidor para conversaciones está llena ahora mismo: prueba dentro de un momento",
    "error_room_not_found": "ninguna sala abierta tiene el código {room!r}: revisa el código (las salas se cierran "
                            "cuando nadie las usa)",
    "error_room_closed": "la sala {room} se ha cerrado: pide el código nuevo si hay otra",
    "error_too_many_rooms": "el servidor tiene todas las salas que puede atender ({limit}): cierra una antes",
    "error_room_full": "la sala {room} está llena ({limit} personas)",
    "error_not_instructor": "solo quien imparte el taller puede hacer esto: la clave de docente no coincide",
    "error_instructor_locked": "demasiadas claves de docente erróneas desde esta dirección: prueba dentro de un minuto",
    "error_not_in_room": "únete antes a la sala {room}",
    "error_room_guessing": "el paso {step} es para adivinar: escribe un token en vez de sortear",
    "error_room_sampling": "el paso {step} es para sortear: usa tu semilla en vez de adivinar",
    "error_room_revealed": "el paso {step} ya se ha revelado: las respuestas están cerradas hasta el siguiente paso",
    "error_room_too_fast": "demasiadas respuestas: como máximo {limit} por minuto",
    "error_room_bad_mode": "el modo debe ser guess o sample (se recibió {value!r})",
    "error_room_bad_choice": "la elección debe ser greedy, top o el id de un token (se recibió {value!r})",
    "error_room_no_answers": "nadie ha respondido aún al paso {step}: fija el greedy o el id de un token",
    "error_room_ended": "el mensaje de la sala ha terminado ({reason}): abre una sala nueva para seguir",
    "field_seed": "la semilla", "field_top": "el número de candidatos", "field_steps": "el número de pasos",
    "field_token id": "el id del token", "field_max new tokens": "el máximo de tokens nuevos",
    "field_the typed token": "el token escrito", "field_layer": "la capa", "field_head": "la cabeza",
    "field_temperature": "la temperatura", "field_repetition-penalty": "la penalización por repetición",
}

# Python's JSON parser's reasons (`error_invalid_json`'s {reason}), by their English text.
JSON_REASONS_ES = {
    "Expecting value": "se esperaba un valor",
    "Expecting ':' delimiter": "se esperaba el separador ':'",
    "Expecting ',' delimiter": "se esperaba el separador ','",
    "Expecting property name enclosed in double quotes": "se esperaba un nombre de campo entre comillas dobles",
    "Unterminated string starting at": "hay un texto sin cerrar que empieza aquí",
    "Invalid control character at": "hay un carácter de control no válido",
    "Invalid \\escape": "hay un escape \\ no válido",
    "Invalid \\uXXXX escape": "hay un escape \\uXXXX no válido",
    "Extra data": "sobra texto después del JSON",
}
EN.update({f"reason_{reason}": reason for reason in JSON_REASONS_ES})
ES.update({f"reason_{reason}": spanish for reason, spanish in JSON_REASONS_ES.items()})
