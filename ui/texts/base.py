"""The words of the page frame and the first three tabs (Conversation, Plain text, Tokens), in English and Spanish.

The workshop this comes from is Spanish. What is left out: the Decoder and Compare tabs' words
(`decoding.py`) and engine error messages (`errors.py`).
"""

EN = {
    "title": "LLM Internals Visualizer",
    "subtitle": "What happens behind a chat-completions API call, one step at a time.",
    "presenter": "🔍 Presenter",
    "presenter_hint": "Large text for a projector (remembered by this browser)",
    "model_info": "Model",
    "device": "device",
    "tokenizer_only": "This model is loaded tokenizer-only: decoding needs weights.",
    "error": "Error",
    "internal_error": "something went wrong on the server; the conversation is kept, try again",
    "pending": "{count} more queued",
    "tab_conversation": "1 · Conversation",
    "tab_text": "2 · Plain text",
    "tab_tokens": "3 · Tokens",
    "tab_decoder": "4 · Decoder",
    "tab_compare": "5 · Compare",
    "intro_conversation": "An API call sends a **conversation**: a list of messages, each with a role. "
    "`system` sets the rules, `user` is the human, `assistant` is the model's earlier replies. "
    "The model answers with one new `assistant` message. Edit the rows or the JSON, or load a preset.",
    "intro_text": "**Step 1: the conversation becomes plain text.** The model never sees JSON: its chat template "
    "glues the messages together with special markers that say where each message starts and ends.",
    "intro_tokens": "**Step 2: the text becomes tokens.** A model reads and writes tokens from a fixed vocabulary: "
    "whole words, pieces of rare words, single characters and special markers. Each token is a number; "
    "those numbers are all the model receives. Different models cut the same text differently.",
    "role": "Role",
    "content": "Content",
    "add_message": "➕ Add message",
    "move_up": "Move up",
    "move_down": "Move down",
    "delete_message": "Delete this message",
    "preset": "Preset",
    "load_preset": "Load preset",
    "json_editor": "Conversation as OpenAI JSON",
    "apply_json": "Apply JSON",
    "import_json": "Import JSON file",
    "export_json": "Export JSON",
    "json_applied": "JSON applied: the conversation now has {count} messages.",
    "json_applied_one": "JSON applied: the conversation now has 1 message.",
    "json_unapplied": "The JSON editor has changes that are not applied yet: press “Apply JSON” to use them.",
    "json_imported": "Imported {name}: {count} messages.",
    "json_imported_one": "Imported {name}: 1 message.",
    "file_too_big": "{name} is {size} bytes: at most {limit} bytes can be imported.",
    "json_too_long": "The JSON editor holds more than {limit} characters: no conversation is that long, so nothing "
                     "was applied.",
    "message_at_limit": "message {index} has reached its limit of {limit} characters: nothing past it is kept.",
    "generation_prompt": "Add the generation prompt (open the assistant's turn)",
    "thinking": "Enable thinking",
    "characters": "characters",
    "tokens": "tokens",
    "show_ids": "Show ids instead of text",
    "rare_word": "Split a word into tokens",
    "injection": "A message contains the text of a special marker. The tokenizer turns it into the real marker, so "
    "the model reads it as structure, not as text (chat-template injection):",
    "marker_im_start": "Starts a message; the role name follows on the same line.",
    "marker_im_end": "Ends a message. When the model writes it, its answer is complete.",
    "marker_think": "Opens the model's reasoning (a thinking model writes it before answering).",
    "marker_end_think": "Closes the reasoning; the answer for the user follows.",
    "marker_endoftext": "End of a document; some models also stop on it.",
    "marker_other": "A special token of this tokenizer.",
}

ES = {
    "title": "Visualizador de LLMs por dentro",
    "subtitle": "Lo que ocurre tras una llamada a una API de chat, paso a paso.",
    "presenter": "🔍 Presentador",
    "presenter_hint": "Texto grande para un proyector (este navegador lo recuerda)",
    "model_info": "Modelo",
    "device": "dispositivo",
    "tokenizer_only": "Este modelo está cargado solo con el tokenizer: para decodificar hacen falta los pesos.",
    "error": "Error",
    "internal_error": "algo ha fallado en el servidor; la conversación se conserva, vuelve a intentarlo",
    "pending": "{count} más en cola",
    "tab_conversation": "1 · Conversación",
    "tab_text": "2 · Texto plano",
    "tab_tokens": "3 · Tokens",
    "tab_decoder": "4 · Decodificador",
    "tab_compare": "5 · Comparar",
    "intro_conversation": "Una llamada a la API envía una **conversación**: una lista de mensajes, cada uno con un rol. "
    "`system` fija las reglas, `user` es el humano y `assistant` son las respuestas anteriores del modelo. "
    "El modelo responde con un nuevo mensaje `assistant`. Edita las filas o el JSON, o carga un ejemplo.",
    "intro_text": "**Paso 1: la conversación se convierte en texto plano.** El modelo nunca ve JSON: su plantilla de "
    "chat une los mensajes con etiquetas especiales que marcan dónde empieza y termina cada uno.",
    "intro_tokens": "**Paso 2: el texto se convierte en tokens.** Un modelo lee y escribe tokens de un diccionario fijo: "
    "palabras enteras, trozos de palabras raras, caracteres sueltos y etiquetas especiales. Cada token es un "
    "número, y esos números son todo lo que recibe el modelo. Cada modelo corta el mismo texto a su manera.",
    "role": "Rol",
    "content": "Contenido",
    "add_message": "➕ Añadir mensaje",
    "move_up": "Subir",
    "move_down": "Bajar",
    "delete_message": "Borrar este mensaje",
    "preset": "Ejemplo",
    "load_preset": "Cargar ejemplo",
    "json_editor": "Conversación en JSON de OpenAI",
    "apply_json": "Aplicar JSON",
    "import_json": "Importar archivo JSON",
    "export_json": "Exportar JSON",
    "json_applied": "JSON aplicado: la conversación tiene ahora {count} mensajes.",
    "json_applied_one": "JSON aplicado: la conversación tiene ahora 1 mensaje.",
    "json_unapplied": "El editor JSON tiene cambios sin aplicar: pulsa «Aplicar JSON» para usarlos.",
    "json_imported": "Importado {name}: {count} mensajes.",
    "json_imported_one": "Importado {name}: 1 mensaje.",
    "file_too_big": "{name} ocupa {size} bytes: se pueden importar como mucho {limit} bytes.",
    "json_too_long": "El editor JSON tiene más de {limit} caracteres: ninguna conversación es tan larga, así que no "
                     "se ha aplicado nada.",
    "message_at_limit": ("el mensaje {index} ha llegado a su límite de {limit} caracteres: lo que pase de ahí no "
                         "se guarda."),
    "generation_prompt": "Añadir el prompt de generación (abrir el turno del asistente)",
    "thinking": "Activar razonamiento",
    "characters": "caracteres",
    "tokens": "tokens",
    "show_ids": "Mostrar ids en lugar de texto",
    "rare_word": "Divide una palabra en tokens",
    "injection": "Un mensaje contiene el texto de una etiqueta especial. El tokenizer lo convierte en la etiqueta "
    "real, así que el modelo lo lee como estructura y no como texto (inyección en la plantilla de chat):",
    "marker_im_start": "Empieza un mensaje; el nombre del rol va en la misma línea.",
    "marker_im_end": "Termina un mensaje. Cuando el modelo lo escribe, su respuesta está completa.",
    "marker_think": "Abre el razonamiento del modelo (un modelo razonador lo escribe antes de responder).",
    "marker_end_think": "Cierra el razonamiento; después viene la respuesta para el usuario.",
    "marker_endoftext": "Fin de un documento; algunos modelos también paran aquí.",
    "marker_other": "Un token especial de este tokenizer.",
}
