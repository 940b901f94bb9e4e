"""Every word the app shows, in English and Spanish (the workshop this comes from is Spanish).

Plain dicts keyed by short names: the UI hands them to `gr.I18n` for labels, and the views
take them for text they render on the server. `language_from_header` picks one from a
browser's Accept-Language. What is left out: other languages (add a dict with the same keys).
"""

LANGUAGES = ("en", "es")

EN = {
    "title": "LLM Internals Visualizer",
    "subtitle": "What happens behind a chat-completions API call, one step at a time.",
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
    "intro_decoder": "**Steps 3 and 4: one forward pass per token.** Each click runs the model once on the new token "
    "(earlier tokens are remembered in the KV cache) and gives a probability for every token in the vocabulary. "
    "Greedy takes the most likely one; sampling draws at random after temperature, top-k and top-p reshape the "
    "probabilities, which is why the same question can get different answers.",
    "intro_compare": "**Why answers differ.** Top: greedy and sampled decoding of the same conversation, one batched "
    "forward pass per step. Below: two slightly different conversations, both greedy. The first token where "
    "they part ways is highlighted.",
    "role": "Role",
    "content": "Content",
    "add_message": "➕ Add message",
    "preset": "Preset",
    "load_preset": "Load preset",
    "json_editor": "Conversation as OpenAI JSON",
    "apply_json": "Apply JSON",
    "import_json": "Import JSON file",
    "export_json": "Export JSON",
    "generation_prompt": "Add the generation prompt (open the assistant's turn)",
    "thinking": "Enable thinking",
    "characters": "characters",
    "tokens": "tokens",
    "show_ids": "Show ids instead of text",
    "second_tokenizer": "Second tokenizer",
    "rare_word": "Split a word into tokens",
    "mode": "Decoding",
    "greedy": "Greedy",
    "sampling": "Sampling",
    "temperature": "Temperature",
    "top_k": "Top-k (0 = off)",
    "top_p": "Top-p (1 = off)",
    "seed": "Seed",
    "max_new_tokens": "Max new tokens",
    "top_n": "Candidates shown",
    "step": "Step ▶",
    "step10": "Step ×10",
    "run": "Run to end ⏩",
    "stop": "Stop ■",
    "undo": "◀ Undo",
    "reset": "Reset ⟲",
    "candidates": "Candidates at this position: pick one to force it",
    "force": "Force this token",
    "force_text": "…or type a token (text or id)",
    "force_typed": "Force typed token",
    "chart_title": "Next-token probabilities",
    "chart_raw": "raw softmax",
    "chart_sampled": "after temperature / top-k / top-p",
    "chart_chosen": "chosen",
    "chart_cut": "cut",
    "timeline_title": "Chosen-token probability and entropy per step",
    "entropy": "entropy (bits)",
    "probability": "probability",
    "step_word": "step",
    "cache": "KV cache",
    "cached": "cached",
    "new": "new",
    "prompt": "in the prompt",
    "ms": "ms",
    "batch_rows": "steps in one forward pass",
    "generated": "Generated text",
    "output_ids": "Output ids",
    "with_special": "Detokenized, special tokens kept",
    "without_special": "Detokenized, special tokens skipped",
    "stop_eos": "End of message: the model wrote its end marker.",
    "stop_max": "Stopped: the maximum number of new tokens was reached (message incomplete).",
    "no_step": "Press Step ▶ (or the → key) to run the first forward pass.",
    "preview": "Before the first step: the distribution for the first new token.",
    "forced": "forced",
    "rank": "rank",
    "tokens_per_s": "tokens/s",
    "keyboard": "Keys: → step · ← undo",
    "compare_greedy": "Greedy",
    "compare_sampled": "Sampled",
    "compare_a": "Conversation A",
    "compare_b": "Conversation B",
    "compare_steps": "Steps",
    "run_both": "Run both ⏩",
    "diverge_at": "They diverge at generated token",
    "no_divergence": "No divergence yet.",
    "injection": "A message contains the text of a special marker. The tokenizer turns it into the real marker, so "
    "the model reads it as structure, not as text (chat-template injection):",
    "tokenizer_only": "This model is loaded tokenizer-only: decoding needs weights.",
    "model_info": "Model",
    "device": "device",
    "error": "Error",
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
    "intro_decoder": "**Pasos 3 y 4: una pasada del modelo por token.** Cada clic ejecuta el modelo una vez sobre el "
    "token nuevo (los anteriores quedan en la caché KV) y da una probabilidad para cada token del diccionario. "
    "Greedy coge el más probable; el sampling sortea tras ajustar las probabilidades con temperature, top-k y "
    "top-p, y por eso la misma pregunta puede recibir respuestas distintas.",
    "intro_compare": "**Por qué cambian las respuestas.** Arriba: greedy y sampling sobre la misma conversación, con "
    "una sola pasada por paso para ambos. Abajo: dos conversaciones casi iguales, ambas en greedy. Se resalta el "
    "primer token en el que se separan.",
    "role": "Rol",
    "content": "Contenido",
    "add_message": "➕ Añadir mensaje",
    "preset": "Ejemplo",
    "load_preset": "Cargar ejemplo",
    "json_editor": "Conversación en JSON de OpenAI",
    "apply_json": "Aplicar JSON",
    "import_json": "Importar archivo JSON",
    "export_json": "Exportar JSON",
    "generation_prompt": "Añadir el prompt de generación (abrir el turno del asistente)",
    "thinking": "Activar razonamiento",
    "characters": "caracteres",
    "tokens": "tokens",
    "show_ids": "Mostrar ids en lugar de texto",
    "second_tokenizer": "Segundo tokenizer",
    "rare_word": "Divide una palabra en tokens",
    "mode": "Decodificación",
    "greedy": "Greedy",
    "sampling": "Sampling",
    "temperature": "Temperatura",
    "top_k": "Top-k (0 = desactivado)",
    "top_p": "Top-p (1 = desactivado)",
    "seed": "Semilla",
    "max_new_tokens": "Máximo de tokens nuevos",
    "top_n": "Candidatos mostrados",
    "step": "Paso ▶",
    "step10": "Paso ×10",
    "run": "Al final ⏩",
    "stop": "Parar ■",
    "undo": "◀ Deshacer",
    "reset": "Reiniciar ⟲",
    "candidates": "Candidatos en esta posición: elige uno para forzarlo",
    "force": "Forzar este token",
    "force_text": "…o escribe un token (texto o id)",
    "force_typed": "Forzar token escrito",
    "chart_title": "Probabilidades del siguiente token",
    "chart_raw": "softmax sin ajustar",
    "chart_sampled": "tras temperature / top-k / top-p",
    "chart_chosen": "elegido",
    "chart_cut": "descartado",
    "timeline_title": "Probabilidad del token elegido y entropía por paso",
    "entropy": "entropía (bits)",
    "probability": "probabilidad",
    "step_word": "paso",
    "cache": "Caché KV",
    "cached": "en caché",
    "new": "nuevos",
    "prompt": "en el prompt",
    "ms": "ms",
    "batch_rows": "pasos en una pasada",
    "generated": "Texto generado",
    "output_ids": "Ids de salida",
    "with_special": "Detokenizado, con tokens especiales",
    "without_special": "Detokenizado, sin tokens especiales",
    "stop_eos": "Fin del mensaje: el modelo ha escrito su etiqueta de cierre.",
    "stop_max": "Parado: se alcanzó el máximo de tokens nuevos (mensaje incompleto).",
    "no_step": "Pulsa Paso ▶ (o la tecla →) para ejecutar la primera pasada.",
    "preview": "Antes del primer paso: la distribución del primer token nuevo.",
    "forced": "forzado",
    "rank": "posición",
    "tokens_per_s": "tokens/s",
    "keyboard": "Teclas: → paso · ← deshacer",
    "compare_greedy": "Greedy",
    "compare_sampled": "Sampling",
    "compare_a": "Conversación A",
    "compare_b": "Conversación B",
    "compare_steps": "Pasos",
    "run_both": "Ejecutar ambas ⏩",
    "diverge_at": "Se separan en el token generado",
    "no_divergence": "Aún no se han separado.",
    "injection": "Un mensaje contiene el texto de una etiqueta especial. El tokenizer lo convierte en la etiqueta "
    "real, así que el modelo lo lee como estructura y no como texto (inyección en la plantilla de chat):",
    "tokenizer_only": "Este modelo está cargado solo con el tokenizer: para decodificar hacen falta los pesos.",
    "model_info": "Modelo",
    "device": "dispositivo",
    "error": "Error",
    "marker_im_start": "Empieza un mensaje; el nombre del rol va en la misma línea.",
    "marker_im_end": "Termina un mensaje. Cuando el modelo lo escribe, su respuesta está completa.",
    "marker_think": "Abre el razonamiento del modelo (un modelo razonador lo escribe antes de responder).",
    "marker_end_think": "Cierra el razonamiento; después viene la respuesta para el usuario.",
    "marker_endoftext": "Fin de un documento; algunos modelos también paran aquí.",
    "marker_other": "Un token especial de este tokenizer.",
}

TEXTS = {"en": EN, "es": ES}

MARKER_KEYS = {
    "<|im_start|>": "marker_im_start",
    "<|im_end|>": "marker_im_end",
    "<think>": "marker_think",
    "</think>": "marker_end_think",
    "<|endoftext|>": "marker_endoftext",
}


def texts_for(language):
    return TEXTS.get(language, EN)


def language_from_header(accept_language, default="en"):
    """'es-ES,es;q=0.9,en;q=0.8' -> 'es'; the first listed language we have wins."""
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in TEXTS:
            return code
    return default
