"""Names of fields and parameters the provider documents in shared/seeds/ mention, copied by
hand (plus a few facts from shared/reference/). tests/test_seed_coverage.py checks that the
contract has each one; the rule that maps a name onto the contract is stated there."""

# seeds/freeclimb-incoming-numbers.txt, "Resource properties": camelCase JSON keys.
FREECLIMB_PROPERTIES = (
    "uri", "dateCreated", "dateUpdated", "revision", "phoneNumberId", "accountId",
    "applicationId", "phoneNumber", "alias", "region", "country", "capabilities", "campaignId",
    "campaignAssignmentTime", "offnet",
)

# The same seed names the capabilities in prose as "voice, sms, tollFree, tenDLC, shortcode";
# the provider's own spec and its servers spell the last one shortCode (reference/freeclimb.md
# §3.3), and that spelling is what goes on the wire.
FREECLIMB_CAPABILITIES = ("voice", "sms", "tollFree", "tenDLC", "shortCode")

# reference/freeclimb.md §3.2: keys the provider's spec has that the seed leaves out.
FREECLIMB_REFERENCE = ("tfn", "voiceEnabled", "smsEnabled")

# seeds/restcomm-incoming-phone-numbers.txt, "Resource Properties" (PascalCase, as in XML).
RESTCOMM_PROPERTIES = (
    "Sid", "DateCreated", "DateUpdated", "FriendlyName", "AccountSid", "PhoneNumber",
    "ApiVersion", "VoiceCallerIdLookup", "VoiceUrl", "VoiceMethod", "VoiceFallbackUrl",
    "VoiceFallbackMethod", "StatusCallback", "StatusCallbackMethod", "VoiceApplicationSid",
    "VoiceApplicationName", "SmsUrl", "SmsMethod", "SmsFallbackUrl", "SmsFallbackMethod",
    "SmsApplicationSid", "SmsApplicationName", "UssdUrl", "UssdMethod", "UssdFallbackUrl",
    "UssdFallbackMethod", "UssdApplicationSid", "UssdApplicationName", "ReferUrl",
    "ReferMethod", "ReferApplicationSid", "ReferApplicationName", "Capabilities", "Uri",
)

# The seed's "Possible capabilities are Voice, SMS, and MMS", with the names the server
# really uses for each: (JSON key, XML element) per reference/restcomm.md §3.1 and §3.2.
RESTCOMM_CAPABILITIES = {
    "Voice": ("voice_capable", "Voice"),
    "SMS": ("sms_capable", "Sms"),
    "MMS": ("mms_capable", "Mms"),
}

# "List Filters" of the list resource: query parameters.
RESTCOMM_LIST_FILTERS = ("PhoneNumber", "FriendlyName", "Beta")

# Form parameters of "HTTP POST" on the list resource (required, then optional). `isSIP`
# comes from the seed's "Attach a SIP Virtual number" example (-d "isSIP=true").
RESTCOMM_CREATE_PARAMETERS = (
    "PhoneNumber", "AreaCode",
    "FriendlyName", "VoiceUrl", "VoiceMethod", "VoiceFallbackUrl", "VoiceFallbackMethod",
    "StatusCallback", "StatusCallbackMethod", "VoiceCallerIdLookup", "VoiceApplicationSid",
    "SmsUrl", "SmsMethod", "SmsFallbackUrl", "SmsFallbackMethod", "SmsApplicationSid",
    "ApiVersion", "isSIP",
)

# Form parameters of "HTTP POST and PUT" on the instance resource.
RESTCOMM_UPDATE_PARAMETERS = (
    "FriendlyName", "ApiVersion", "VoiceUrl", "VoiceMethod", "VoiceFallbackUrl",
    "VoiceFallbackMethod", "StatusCallback", "StatusCallbackMethod", "VoiceCallerIdLookup",
    "VoiceApplicationSid", "SmsUrl", "SmsMethod", "SmsFallbackUrl", "SmsFallbackMethod",
    "SmsApplicationSid", "AccountSid",
)

# reference/restcomm.md §3.1: the JSON keys of one number, as the server emits them.
RESTCOMM_JSON_KEYS = (
    "sid", "account_sid", "friendly_name", "phone_number", "voice_url", "voice_method",
    "voice_fallback_url", "voice_fallback_method", "status_callback", "status_callback_method",
    "voice_caller_id_lookup", "voice_application_sid", "voice_application_name",
    "date_created", "date_updated", "sms_url", "sms_method", "sms_fallback_url",
    "sms_fallback_method", "sms_application_sid", "sms_application_name", "ussd_url",
    "ussd_method", "ussd_fallback_url", "ussd_fallback_method", "ussd_application_sid",
    "ussd_application_name", "refer_url", "refer_method", "refer_application_sid",
    "refer_application_name", "capabilities", "voice_capable", "sms_capable", "mms_capable",
    "fax_capable", "api_version", "uri",
)
