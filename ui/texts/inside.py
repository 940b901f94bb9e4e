"""The words of the Inside-the-step tab (logit lens, attention, sampler stages), in English and Spanish.

Stage names and explanations are keyed by the stage's name: "raw", each knob of `engine/knobs.py`
("stage_top_k", "stage_explain_top_k"), "final". A new knob adds those two keys here.
The three section titles are Markdown headings (they are only shown through gr.Markdown).
What is left out: the knobs' control labels (`decoding.py`), engine errors (`errors.py`).
"""

EN = {
    "tab_inside": "6 · Inside the step",
    "intro_inside": "**Inside one step.** The model reads the last token and predicts the next one. Here you see "
    "what each layer guessed on the way, which earlier tokens that position looked at, and how each sampling knob "
    "reshapes the final probabilities. Computed for the current step only, when you ask.",
    "inside_look": "Look inside this step 🔍",
    "inside_position": "Position {position} ({token}) predicts token {next} of the answer · {prompt} prompt tokens",
    "inside_position_ended": "Position {position} ({token}) ended the answer: this is what the model would predict "
    "after its end marker · {prompt} prompt tokens",
    "inside_empty": "Open a conversation in tab 1, then press the button to look inside the next step.",
    "lens_title": "### Logit lens: each layer's guess at the next token",
    "lens_explain": "Each row passes the hidden state after one layer through the model's final norm and output head, "
    "as if the model stopped there. Layer 0 is the token's own embedding; the top row is the real output. The first "
    "column follows the final top guess down the layers: its probability and its rank.",
    "lens_note": "Early layers are noisy: this is the plain logit lens (no tuned lens), so read their guesses "
    "as rough.",
    "lens_following": "Following {token} (the most likely next token): first the top guess at layer {layer} of {last}.",
    "lens_never": "Following {token}: it is the top guess only at the last layer.",
    "lens_layer": "layer",
    "lens_guess": "guess",
    "lens_axis": "layer (0 = embeddings)",
    "attention_title": "### What the predicting position attended to",
    "attention_explain": "The attention weights of the last position over every token so far: the darker a chip, the "
    "more of its attention it got. Each layer has several heads; their mean is shown unless you pick one.",
    "attention_sink": "Many heads park their attention on the first token when nothing else matters (an "
    "attention sink).",
    "attention_layer": "Layer",
    "attention_all_layers": "All layers (mean)",
    "attention_layer_n": "Layer {layer}",
    "attention_head": "Head",
    "attention_mean_heads": "Mean over heads",
    "attention_head_n": "Head {head}",
    "attention_showing": "{layer} · {head} · {count} tokens",
    "attention_top": "Most attended positions",
    "part_system": "system prompt",
    "part_user": "user",
    "part_assistant": "assistant",
    "part_generated": "generated so far",
    "part_other": "other",
    "part_special": "special marker",
    "part_current": "predicting here",
    "stages_title": "### The sampler, stage by stage",
    "stages_explain": "The step's kept logits go through each knob in the order transformers' generate applies them; "
    "each row is the distribution after that stage. Moving a knob here redraws the rows without running the model "
    "again, and does not change the Decoder's settings.",
    "stages_greedy": "The Decoder is in greedy mode: it applies the repetition penalty and takes the most likely "
    "token. These rows show what sampling would do.",
    "stages_knobs": "Try the knobs (this view only)",
    "stages_stage": "stage",
    "stages_left": "tokens left",
    "stage_off": "off",
    "stage_removed": "removed {count} ({mass} of the probability)",
    "stage_removed_none": "removed nothing",
    "stage_raw": "raw softmax",
    "stage_repetition_penalty": "repetition penalty",
    "stage_temperature": "temperature",
    "stage_top_k": "top-k",
    "stage_top_p": "top-p",
    "stage_min_p": "min-p",
    "stage_final": "final: drawn from",
    "stage_explain_raw": "Softmax of the model's logits: every token of the vocabulary gets a probability.",
    "stage_explain_repetition_penalty": "Tokens already in the text get their logit divided (if positive) or "
    "multiplied (if negative) by the penalty, so repeating is less likely. It also applies in greedy mode.",
    "stage_explain_temperature": "Logits are divided by the temperature: below 1 the top tokens grow stronger, "
    "above 1 the distribution flattens. Nothing is removed.",
    "stage_explain_top_k": "Keeps only the k most likely tokens; the rest get probability zero.",
    "stage_explain_top_p": "Keeps the smallest set of most likely tokens whose probabilities add up to p.",
    "stage_explain_min_p": "Removes tokens less likely than min-p times the top token's probability: unlike top-p, "
    "the cut follows how confident the model is.",
    "stage_explain_final": "What a sampled step draws from; the seeded generator picks one token from it.",
}

ES = {
    "tab_inside": "6 · Dentro del paso",
    "intro_inside": "**Dentro de un paso.** El modelo lee el último token y predice el siguiente. Aquí ves qué "
    "adivinaba cada capa por el camino, en qué tokens anteriores se fijó esa posición y cómo cada parámetro de "
    "sampling reforma las probabilidades finales. Se calcula solo para el paso actual, cuando lo pides.",
    "inside_look": "Mirar dentro de este paso 🔍",
    "inside_position": "La posición {position} ({token}) predice el token {next} de la respuesta · "
    "{prompt} tokens del prompt",
    "inside_position_ended": "La posición {position} ({token}) terminó la respuesta: esto es lo que el modelo "
    "predeciría tras su marcador de cierre · {prompt} tokens del prompt",
    "inside_empty": "Abre una conversación en la pestaña 1 y pulsa el botón para mirar dentro del siguiente paso.",
    "lens_title": "### Lente de logits: lo que adivina cada capa como siguiente token",
    "lens_explain": "Cada fila pasa el estado oculto tras una capa por la normalización final y la cabeza de salida "
    "del modelo, como si el modelo terminara ahí. La capa 0 es el embedding del propio token; la fila de arriba es "
    "la salida real. La primera columna sigue a la apuesta final por las capas: su probabilidad y su puesto.",
    "lens_note": "Las primeras capas son ruidosas: es la lente de logits simple (sin tuned lens), así que sus "
    "apuestas son aproximadas.",
    "lens_following": "Siguiendo {token} (el siguiente token más probable): es la apuesta principal por primera vez "
    "en la capa {layer} de {last}.",
    "lens_never": "Siguiendo {token}: solo es la apuesta principal en la última capa.",
    "lens_layer": "capa",
    "lens_guess": "apuesta",
    "lens_axis": "capa (0 = embeddings)",
    "attention_title": "### En qué se fijó la posición que predice",
    "attention_explain": "Los pesos de atención de la última posición sobre cada token hasta ahora: cuanto más oscuro "
    "el token, más atención recibió. Cada capa tiene varias cabezas; se muestra su media salvo que elijas una.",
    "attention_sink": "Muchas cabezas dejan su atención en el primer token cuando nada más importa (un sumidero de "
    "atención).",
    "attention_layer": "Capa",
    "attention_all_layers": "Todas las capas (media)",
    "attention_layer_n": "Capa {layer}",
    "attention_head": "Cabeza",
    "attention_mean_heads": "Media de las cabezas",
    "attention_head_n": "Cabeza {head}",
    "attention_showing": "{layer} · {head} · {count} tokens",
    "attention_top": "Posiciones con más atención",
    "part_system": "prompt de sistema",
    "part_user": "usuario",
    "part_assistant": "asistente",
    "part_generated": "generado hasta ahora",
    "part_other": "otro",
    "part_special": "marcador especial",
    "part_current": "aquí se predice",
    "stages_title": "### El sampling, etapa a etapa",
    "stages_explain": "Los logits guardados del paso pasan por cada parámetro en el orden en que los aplica generate "
    "de transformers; cada fila es la distribución tras esa etapa. Mover un parámetro aquí redibuja las filas sin "
    "volver a ejecutar el modelo, y no cambia los ajustes del Decodificador.",
    "stages_greedy": "El Decodificador está en modo greedy: aplica la penalización por repetición y coge el token "
    "más probable. Estas filas muestran lo que haría el sampling.",
    "stages_knobs": "Prueba los parámetros (solo en esta vista)",
    "stages_stage": "etapa",
    "stages_left": "tokens que quedan",
    "stage_off": "no se aplica",
    "stage_removed": "quitó {count} ({mass} de la probabilidad)",
    "stage_removed_none": "no quitó nada",
    "stage_raw": "softmax sin ajustar",
    "stage_repetition_penalty": "penalización por repetición",
    "stage_temperature": "temperatura",
    "stage_top_k": "top-k",
    "stage_top_p": "top-p",
    "stage_min_p": "min-p",
    "stage_final": "final: de aquí sale el token",
    "stage_explain_raw": "Softmax de los logits del modelo: cada token del vocabulario recibe una probabilidad.",
    "stage_explain_repetition_penalty": "A los tokens que ya están en el texto se les divide el logit (si es "
    "positivo) o se les multiplica (si es negativo) por la penalización, así repetir es menos probable. También se "
    "aplica en modo greedy.",
    "stage_explain_temperature": "Los logits se dividen por la temperatura: por debajo de 1 los tokens más probables "
    "ganan fuerza, por encima de 1 la distribución se aplana. No se quita nada.",
    "stage_explain_top_k": "Se queda solo con los k tokens más probables; el resto pasa a probabilidad cero.",
    "stage_explain_top_p": "Se queda con el conjunto más pequeño de tokens más probables cuyas probabilidades suman p.",
    "stage_explain_min_p": "Quita los tokens menos probables que min-p por la probabilidad del token principal: a "
    "diferencia de top-p, el corte sigue a la seguridad del modelo.",
    "stage_explain_final": "Un paso con sampling sortea de esta distribución: el generador con semilla elige el "
    "token.",
}
