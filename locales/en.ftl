# smsgate: every word of the page, its script, the help page and the API's
# codes, in English. The message ids are those of es.ftl.

## The send page

title = Messages to mobile phones
intro = Write a message to one or more mobile phones. Sending is free; replies show up here.
other_lang = Español
recipients = Recipients
number = Mobile number
number_help = 809, 829 or 849 and 7 digits, or + and the country code. Separate several with commas.
add = Add
message = Message
send = Send
sent_title = Sent to
# The box keeps its Spanish name, as the service is known by it.
replies_title = Aquí recibirás tu respuesta
no_replies = No replies yet.
cannot_reply = this number cannot reply
ended = The session ended. To start another, send a new message.
error_title = Could not send
from = From
you = You
help_link = Questions: prices, sessions, fleet numbers
price_note = Sending and receiving messages on the web is free. Each message a mobile phone sends as a reply costs { $price }; receiving them on the phone is free.
price_taxed = { $amount } plus taxes

## What the page's script writes

chars = characters
sms = SMS
left = left
of = of
invalid = Invalid number:{" "}
remove = Remove{" "}
ends_in = The session ends in{" "}
error = Could not send:{" "}
too_long = The message is too long.
need_recipient = Add at least one number.

## Recipient states

queued = queued
waiting_for_modem = waiting for the modem
waiting_for_cap = waiting: the SIM reached its sending limit
sending = sending
sent = sent
delivered = delivered
failed = failed
refused = refused

## Why a recipient was refused

invalid_number = invalid number
opted_out = this number does not accept messages
no_free_short_code = this number is already in conversation with other sessions; try again in a few minutes
duplicate_recipient = duplicate
destination_not_allowed = from here you can only write to phones of the service's country
rate_limited = too many messages, try later

## Why a message did not reach a phone

undelivered = the network could not deliver it
ended_unsent = the conversation ended before a modem could send it
send_failed = it could not be sent to this number

## Errors of a whole send

no_recipient_accepted = none of the numbers can receive this message
invalid_request = the message or a number is missing
invalid_json = the page sent data that cannot be read; reload it
too_many_recipients = too many recipients
text_too_long = the message is too long
send_in_progress = wait until the previous send is done
unavailable = the service is not available right now; try again in a moment
cross_origin = send the message from this page itself
payload_too_large = the message is too large
body_timeout = the connection is too slow; try again
unsupported_media_type = the page sent data in a format that cannot be read; reload it
no_session = there is no live session; send a message to start one
not_found = that address does not exist
invalid_query = the address has data that cannot be read
store_unavailable = the service cannot read its data right now; try again in a moment
internal = something failed in the service; try again

## Durations

seconds = { $n ->
    [one] { $n } second
   *[other] { $n } seconds
}
minutes = { $n ->
    [one] { $n } minute
   *[other] { $n } minutes
}
hours = { $n ->
    [one] { $n } hour
   *[other] { $n } hours
}

## The help page (/help)

faq_title = Frequently asked questions
faq_back = Back to sending messages
faq_who = Who can use the service?
faq_who_1 = Anyone on the internet can send messages from this page to mobile phones and receive their replies.
faq_where = Where do I see the replies?
faq_where_1 = If you write from the web, replies appear in the box “Aquí recibirás tu respuesta”.
faq_where_2 = If you are the mobile user, the message arrives in your phone's inbox, from a short code you can reply to.
faq_fleet = Can fleet (VPN) numbers receive and send messages?
faq_fleet_1 = Fleet (VPN) numbers receive the messages but cannot reply: those plans cannot send messages to short codes. The page says so next to the number.
faq_many = How many people can I send a message to?
faq_many_1 = { $max ->
    [0] You send one message at a time, to as many people as you like.
   *[other] You send one message at a time, to up to { $max } people.
}
faq_cost = What do messages cost?
faq_cost_1 = Messages sent and received on the web are free.
faq_cost_2 = Each message sent from a mobile phone costs { $price }.
faq_cost_3 = Messages received on the phone are free.
faq_history = Was my web session's message history deleted?
faq_history_1 = If you have neither sent nor received a message on the web for { $idle }, the session ends and its messages disappear from the page.
faq_history_2 = To open a new session, send a new message.
faq_after = What happens to a message sent after the { $idle } a session lasts?
faq_after_1 = If you write from the web after the session ended, the message reaches the phone from another short code, in a new session.
faq_after_2 = If the phone replies after the session ended, that reply no longer reaches the web session.
