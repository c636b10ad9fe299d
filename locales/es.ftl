# smsgate: every word of the page, its script, the help page and the API's
# codes, in Spanish (the default language). One file per language; a test
# fails when a code the API can produce has no words here.

## The send page

title = Mensajes a celulares
intro = Escribe un mensaje a uno o varios celulares. Enviar es gratis; las respuestas aparecen aquí.
other_lang = English
recipients = Destinatarios
number = Número de celular
number_help = 809, 829 u 849 y 7 dígitos, o + y el código del país. Separa varios con comas.
add = Agregar
message = Mensaje
send = Enviar
sent_title = Enviado a
replies_title = Aquí recibirás tu respuesta
no_replies = Todavía no hay respuestas.
cannot_reply = este número no puede responder
ended = La sesión terminó. Para empezar otra, envía un mensaje nuevo.
error_title = No se pudo enviar
from = De
you = Tú
help_link = Preguntas frecuentes: precios, sesiones, flotas
# FAQ 6 on the page; $price is price_taxed or the bare amount.
price_note = Enviar y recibir mensajes en la web es gratis. Cada mensaje que se responde desde el celular cuesta { $price }; recibirlos en el celular es gratis.
price_taxed = { $amount } más impuestos

## What the page's script writes

chars = caracteres
sms = SMS
left = quedan
of = de
invalid = Número no válido:{" "}
remove = Quitar{" "}
ends_in = La sesión termina en{" "}
error = No se pudo enviar:{" "}
too_long = El mensaje es demasiado largo.
need_recipient = Agrega al menos un número.

## Recipient states

queued = en cola
waiting_for_modem = esperando al módem
waiting_for_cap = en espera: la SIM llegó a su límite de envíos
sending = enviando
sent = enviado
delivered = entregado
failed = falló
refused = rechazado

## Why a recipient was refused

invalid_number = número no válido
opted_out = este número no acepta mensajes
no_free_short_code = este número ya está en conversación con otras sesiones; intenta en unos minutos
duplicate_recipient = repetido
destination_not_allowed = desde aquí solo se puede escribir a teléfonos del país del servicio
rate_limited = demasiados mensajes, intenta más tarde

## Why a message did not reach a phone

undelivered = la red no pudo entregarlo
ended_unsent = la conversación terminó antes de que un módem pudiera enviarlo
send_failed = no se pudo enviar a este número

## Errors of a whole send

no_recipient_accepted = ninguno de los números puede recibir este mensaje
invalid_request = falta el mensaje o algún número
invalid_json = la página envió datos que no se entienden; recárgala
too_many_recipients = demasiados destinatarios
text_too_long = el mensaje es demasiado largo
send_in_progress = espera a que termine el envío anterior
unavailable = el servicio no está disponible ahora; intenta en un momento
cross_origin = envía el mensaje desde esta misma página
payload_too_large = el mensaje es demasiado grande
body_timeout = la conexión es demasiado lenta; inténtalo de nuevo
unsupported_media_type = la página envió datos en un formato que no se entiende; recárgala
no_session = no hay una sesión activa; envía un mensaje para empezar una
not_found = esa dirección no existe
invalid_query = la dirección tiene datos que no se entienden
store_unavailable = el servicio no puede leer sus datos ahora; intenta en un momento
internal = algo falló en el servicio; intenta de nuevo

## Durations, as the FAQ writes them ("5 minutos")

seconds = { $n ->
    [one] { $n } segundo
   *[other] { $n } segundos
}
minutes = { $n ->
    [one] { $n } minuto
   *[other] { $n } minutos
}
hours = { $n ->
    [one] { $n } hora
   *[other] { $n } horas
}

## The help page (/ayuda): the FAQ, answered from the configuration

faq_title = Preguntas frecuentes
faq_back = Volver a enviar mensajes
faq_who = ¿Quién puede usar el servicio?
faq_who_1 = Cualquier persona conectada a internet puede enviar mensajes desde esta página a celulares y recibir sus respuestas.
faq_where = ¿Dónde veo las respuestas?
faq_where_1 = Si escribes desde la web, las respuestas aparecen en el recuadro «Aquí recibirás tu respuesta».
faq_where_2 = Si eres el usuario del celular, recibes el mensaje en tu buzón de mensajes, de un código corto al que puedes responder.
faq_fleet = ¿Si tengo una flota VPN puedo recibir y enviar mensajes?
faq_fleet_1 = Los números de flotas VPN reciben los mensajes, pero no pueden contestarlos: esos planes no permiten enviar mensajes a códigos cortos. La página lo indica junto al número.
faq_many = ¿A cuántas personas puedo enviar un mensaje?
faq_many_1 = { $max ->
    [0] Puedes enviar un mensaje a la vez, a la cantidad de personas que desees.
   *[other] Puedes enviar un mensaje a la vez, a hasta { $max } personas.
}
faq_cost = ¿Cuánto cuestan los mensajes?
faq_cost_1 = Los mensajes enviados y recibidos en la web son gratis.
faq_cost_2 = Cada mensaje enviado desde el celular cuesta { $price }.
faq_cost_3 = Los mensajes recibidos en el celular son gratis.
faq_history = ¿Se borró el historial de mensajes de mi sesión web?
faq_history_1 = Si durante { $idle } no has enviado ni recibido mensajes en la web, la sesión termina y los mensajes desaparecen de la página.
faq_history_2 = Para abrir una sesión nueva, envía un mensaje nuevo.
faq_after = ¿Qué pasa si se envía un mensaje después de los { $idle } que dura la sesión?
faq_after_1 = Si escribes desde la web después de que la sesión terminó, el mensaje llega al celular desde otro código corto, en una sesión nueva.
faq_after_2 = Si el celular responde después de que la sesión terminó, esa respuesta ya no llega a la sesión web.
