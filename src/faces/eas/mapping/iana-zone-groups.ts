/**
 * The IANA zones of timezones-ical-library in groups whose VTIMEZONEs have the same observances (the same
 * rules, the same names), each with every UTC offset (minutes east) those observances go from or to.
 * Data, not code: an index that lets a lookup compute the rules of only the groups that can hold a blob's
 * offsets (timezone-blob.ts, ianaZoneForInfo; docs/eas.md, "Time zones"), instead of every zone's.
 *
 * To refresh (after updating timezones-ical-library): build and run
 * `node --test dist/src/faces/eas/mapping/timezone-blob.test.js`; the test "the table of zone groups is
 * timezones-ical-library's" fails and prints the entries as they should read, to paste below.
 */
export interface IanaZoneGroup {
  /** Sorted; [0] for a zone without observances. */
  readonly offsets: readonly number[];
  /** Sorted. */
  readonly zones: readonly string[];
}

export const ianaZoneGroups: readonly IanaZoneGroup[] = [
  { offsets: [0], zones: [
    'Africa/Abidjan', 'Africa/Accra', 'Africa/Bamako', 'Africa/Banjul', 'Africa/Bissau', 'Africa/Conakry',
    'Africa/Dakar', 'Africa/Freetown', 'Africa/Lome', 'Africa/Monrovia', 'Africa/Nouakchott', 'Africa/Ouagadougou',
    'Africa/Sao_Tome', 'Africa/Timbuktu', 'America/Danmarkshavn', 'Atlantic/Reykjavik', 'Atlantic/St_Helena',
    'Etc/GMT', 'Etc/GMT+0', 'Etc/GMT-0', 'Etc/GMT0', 'Etc/Greenwich', 'GMT', 'GMT+0', 'GMT-0', 'GMT0', 'Greenwich',
    'Iceland',
  ] },
  { offsets: [180], zones: [
    'Africa/Addis_Ababa', 'Africa/Asmara', 'Africa/Asmera', 'Africa/Dar_es_Salaam', 'Africa/Djibouti',
    'Africa/Kampala', 'Africa/Mogadishu', 'Africa/Nairobi', 'Indian/Antananarivo', 'Indian/Comoro', 'Indian/Mayotte',
  ] },
  { offsets: [60], zones: [
    'Africa/Algiers', 'Africa/Tunis',
  ] },
  { offsets: [60], zones: [
    'Africa/Bangui', 'Africa/Brazzaville', 'Africa/Douala', 'Africa/Kinshasa', 'Africa/Lagos', 'Africa/Libreville',
    'Africa/Luanda', 'Africa/Malabo', 'Africa/Ndjamena', 'Africa/Niamey', 'Africa/Porto-Novo',
  ] },
  { offsets: [120], zones: [
    'Africa/Blantyre', 'Africa/Bujumbura', 'Africa/Gaborone', 'Africa/Harare', 'Africa/Juba', 'Africa/Khartoum',
    'Africa/Kigali', 'Africa/Lubumbashi', 'Africa/Lusaka', 'Africa/Maputo', 'Africa/Windhoek',
  ] },
  { offsets: [120, 180], zones: [
    'Africa/Cairo', 'Egypt',
  ] },
  { offsets: [0], zones: [
    'Africa/Casablanca', 'Africa/El_Aaiun',
  ] },
  { offsets: [60, 120], zones: [
    'Africa/Ceuta', 'Arctic/Longyearbyen', 'Atlantic/Jan_Mayen', 'CET', 'Europe/Amsterdam', 'Europe/Andorra',
    'Europe/Belgrade', 'Europe/Berlin', 'Europe/Bratislava', 'Europe/Brussels', 'Europe/Budapest', 'Europe/Busingen',
    'Europe/Copenhagen', 'Europe/Gibraltar', 'Europe/Ljubljana', 'Europe/Luxembourg', 'Europe/Madrid', 'Europe/Malta',
    'Europe/Monaco', 'Europe/Oslo', 'Europe/Paris', 'Europe/Podgorica', 'Europe/Prague', 'Europe/Rome',
    'Europe/San_Marino', 'Europe/Sarajevo', 'Europe/Skopje', 'Europe/Stockholm', 'Europe/Tirane', 'Europe/Vaduz',
    'Europe/Vatican', 'Europe/Vienna', 'Europe/Warsaw', 'Europe/Zagreb', 'Europe/Zurich', 'MET', 'Poland',
  ] },
  { offsets: [120], zones: [
    'Africa/Johannesburg', 'Africa/Maseru', 'Africa/Mbabane',
  ] },
  { offsets: [120], zones: [
    'Africa/Tripoli', 'Europe/Kaliningrad', 'Libya',
  ] },
  { offsets: [-600, -540], zones: [
    'America/Adak', 'America/Atka', 'US/Aleutian',
  ] },
  { offsets: [-540, -480], zones: [
    'America/Anchorage', 'America/Juneau', 'America/Metlakatla', 'America/Nome', 'America/Sitka', 'America/Yakutat',
    'US/Alaska',
  ] },
  { offsets: [-240], zones: [
    'America/Anguilla', 'America/Antigua', 'America/Aruba', 'America/Barbados', 'America/Blanc-Sablon',
    'America/Curacao', 'America/Dominica', 'America/Grenada', 'America/Guadeloupe', 'America/Kralendijk',
    'America/Lower_Princes', 'America/Marigot', 'America/Martinique', 'America/Montserrat', 'America/Port_of_Spain',
    'America/Puerto_Rico', 'America/Santo_Domingo', 'America/St_Barthelemy', 'America/St_Kitts', 'America/St_Lucia',
    'America/St_Thomas', 'America/St_Vincent', 'America/Tortola', 'America/Virgin',
  ] },
  { offsets: [-180], zones: [
    'America/Araguaina', 'America/Argentina/Buenos_Aires', 'America/Argentina/Catamarca',
    'America/Argentina/ComodRivadavia', 'America/Argentina/Cordoba', 'America/Argentina/Jujuy',
    'America/Argentina/La_Rioja', 'America/Argentina/Mendoza', 'America/Argentina/Rio_Gallegos',
    'America/Argentina/Salta', 'America/Argentina/San_Juan', 'America/Argentina/San_Luis',
    'America/Argentina/Tucuman', 'America/Argentina/Ushuaia', 'America/Asuncion', 'America/Bahia', 'America/Belem',
    'America/Buenos_Aires', 'America/Catamarca', 'America/Cayenne', 'America/Cordoba', 'America/Coyhaique',
    'America/Fortaleza', 'America/Jujuy', 'America/Maceio', 'America/Mendoza', 'America/Montevideo',
    'America/Paramaribo', 'America/Punta_Arenas', 'America/Recife', 'America/Rosario', 'America/Santarem',
    'America/Sao_Paulo', 'Antarctica/Palmer', 'Antarctica/Rothera', 'Atlantic/Stanley', 'Brazil/East', 'Etc/GMT+3',
  ] },
  { offsets: [-300], zones: [
    'America/Atikokan', 'America/Cancun', 'America/Cayman', 'America/Coral_Harbour', 'America/Jamaica',
    'America/Panama', 'EST', 'Jamaica',
  ] },
  { offsets: [-360], zones: [
    'America/Bahia_Banderas', 'America/Belize', 'America/Chihuahua', 'America/Costa_Rica', 'America/Edmonton',
    'America/El_Salvador', 'America/Guatemala', 'America/Managua', 'America/Merida', 'America/Mexico_City',
    'America/Monterrey', 'America/Regina', 'America/Swift_Current', 'America/Tegucigalpa', 'America/Yellowknife',
    'Canada/Mountain', 'Canada/Saskatchewan', 'Mexico/General',
  ] },
  { offsets: [-240], zones: [
    'America/Boa_Vista', 'America/Campo_Grande', 'America/Caracas', 'America/Cuiaba', 'America/Guyana',
    'America/La_Paz', 'America/Manaus', 'America/Porto_Velho', 'Brazil/West', 'Etc/GMT+4',
  ] },
  { offsets: [-300], zones: [
    'America/Bogota', 'America/Eirunepe', 'America/Guayaquil', 'America/Lima', 'America/Porto_Acre',
    'America/Rio_Branco', 'Brazil/Acre', 'Etc/GMT+5',
  ] },
  { offsets: [-420, -360], zones: [
    'America/Boise', 'America/Cambridge_Bay', 'America/Ciudad_Juarez', 'America/Denver', 'America/Inuvik',
    'America/Shiprock', 'MST7MDT', 'MT', 'Navajo', 'US/Mountain',
  ] },
  { offsets: [-360, -300], zones: [
    'America/Chicago', 'America/Indiana/Knox', 'America/Indiana/Tell_City', 'America/Knox_IN', 'America/Matamoros',
    'America/Menominee', 'America/North_Dakota/Beulah', 'America/North_Dakota/Center',
    'America/North_Dakota/New_Salem', 'America/Ojinaga', 'America/Rainy_River', 'America/Rankin_Inlet',
    'America/Winnipeg', 'CST6CDT', 'CT', 'Canada/Central', 'US/Central', 'US/Indiana-Starke',
  ] },
  { offsets: [-420], zones: [
    'America/Creston', 'America/Dawson', 'America/Dawson_Creek', 'America/Fort_Nelson', 'America/Hermosillo',
    'America/Mazatlan', 'America/Phoenix', 'America/Vancouver', 'America/Whitehorse', 'Canada/Pacific',
    'Canada/Yukon', 'MST', 'Mexico/BajaSur', 'US/Arizona',
  ] },
  { offsets: [-300, -240], zones: [
    'America/Detroit', 'America/Fort_Wayne', 'America/Indiana/Indianapolis', 'America/Indiana/Marengo',
    'America/Indiana/Petersburg', 'America/Indiana/Vevay', 'America/Indiana/Vincennes', 'America/Indianapolis',
    'America/Iqaluit', 'America/Kentucky/Louisville', 'America/Kentucky/Monticello', 'America/Louisville',
    'America/Montreal', 'America/Nassau', 'America/New_York', 'America/Nipigon', 'America/Pangnirtung',
    'America/Port-au-Prince', 'America/Thunder_Bay', 'America/Toronto', 'Canada/Eastern', 'EST5EDT', 'ET',
    'US/East-Indiana', 'US/Eastern', 'US/Michigan',
  ] },
  { offsets: [-480, -420], zones: [
    'America/Ensenada', 'America/Los_Angeles', 'America/Santa_Isabel', 'America/Tijuana', 'Mexico/BajaNorte',
    'PST8PDT', 'PT', 'US/Pacific',
  ] },
  { offsets: [-240, -180], zones: [
    'America/Glace_Bay', 'America/Halifax', 'America/Moncton', 'America/Thule', 'Atlantic/Bermuda', 'Canada/Atlantic',
  ] },
  { offsets: [-120, -60], zones: [
    'America/Godthab', 'America/Nuuk',
  ] },
  { offsets: [-240, -180], zones: [
    'America/Goose_Bay',
  ] },
  { offsets: [-300, -240], zones: [
    'America/Grand_Turk', 'America/Indiana/Winamac',
  ] },
  { offsets: [-300, -240], zones: [
    'America/Havana', 'Cuba',
  ] },
  { offsets: [-180, -120], zones: [
    'America/Miquelon',
  ] },
  { offsets: [-120], zones: [
    'America/Noronha', 'Atlantic/South_Georgia', 'Brazil/DeNoronha', 'Etc/GMT+2',
  ] },
  { offsets: [-360, -300], zones: [
    'America/Resolute',
  ] },
  { offsets: [-240, -180], zones: [
    'America/Santiago', 'Chile/Continental',
  ] },
  { offsets: [-120, -60], zones: [
    'America/Scoresbysund',
  ] },
  { offsets: [-210, -150], zones: [
    'America/St_Johns', 'Canada/Newfoundland',
  ] },
  { offsets: [480], zones: [
    'Antarctica/Casey', 'Asia/Brunei', 'Asia/Choibalsan', 'Asia/Irkutsk', 'Asia/Kuala_Lumpur', 'Asia/Kuching',
    'Asia/Singapore', 'Asia/Ulaanbaatar', 'Asia/Ulan_Bator', 'Etc/GMT-8', 'Singapore',
  ] },
  { offsets: [420], zones: [
    'Antarctica/Davis', 'Asia/Bangkok', 'Asia/Barnaul', 'Asia/Ho_Chi_Minh', 'Asia/Hovd', 'Asia/Krasnoyarsk',
    'Asia/Novokuznetsk', 'Asia/Novosibirsk', 'Asia/Phnom_Penh', 'Asia/Saigon', 'Asia/Tomsk', 'Asia/Vientiane',
    'Etc/GMT-7', 'Indian/Christmas',
  ] },
  { offsets: [600], zones: [
    'Antarctica/DumontDUrville', 'Asia/Ust-Nera', 'Asia/Vladivostok', 'Etc/GMT-10', 'Pacific/Chuuk',
    'Pacific/Port_Moresby', 'Pacific/Truk', 'Pacific/Yap',
  ] },
  { offsets: [600, 660], zones: [
    'Antarctica/Macquarie', 'Australia/ACT', 'Australia/Canberra', 'Australia/Melbourne', 'Australia/NSW',
    'Australia/Sydney', 'Australia/Victoria',
  ] },
  { offsets: [300], zones: [
    'Antarctica/Mawson', 'Antarctica/Vostok', 'Asia/Almaty', 'Asia/Aqtau', 'Asia/Aqtobe', 'Asia/Ashgabat',
    'Asia/Ashkhabad', 'Asia/Atyrau', 'Asia/Dushanbe', 'Asia/Oral', 'Asia/Qostanay', 'Asia/Qyzylorda',
    'Asia/Samarkand', 'Asia/Tashkent', 'Asia/Yekaterinburg', 'Etc/GMT-5', 'Indian/Kerguelen', 'Indian/Maldives',
  ] },
  { offsets: [720, 780], zones: [
    'Antarctica/McMurdo', 'Antarctica/South_Pole', 'NZ', 'Pacific/Auckland',
  ] },
  { offsets: [180], zones: [
    'Antarctica/Syowa', 'Asia/Aden', 'Asia/Amman', 'Asia/Baghdad', 'Asia/Bahrain', 'Asia/Damascus', 'Asia/Istanbul',
    'Asia/Kuwait', 'Asia/Qatar', 'Asia/Riyadh', 'Etc/GMT-3', 'Europe/Istanbul', 'Europe/Minsk', 'Turkey',
  ] },
  { offsets: [0, 120], zones: [
    'Antarctica/Troll',
  ] },
  { offsets: [720], zones: [
    'Asia/Anadyr', 'Asia/Kamchatka', 'Etc/GMT-12', 'Kwajalein', 'Pacific/Fiji', 'Pacific/Funafuti',
    'Pacific/Kwajalein', 'Pacific/Majuro', 'Pacific/Nauru', 'Pacific/Tarawa', 'Pacific/Wake', 'Pacific/Wallis',
  ] },
  { offsets: [240], zones: [
    'Asia/Baku', 'Asia/Dubai', 'Asia/Muscat', 'Asia/Tbilisi', 'Asia/Yerevan', 'Etc/GMT-4', 'Europe/Astrakhan',
    'Europe/Samara', 'Europe/Saratov', 'Europe/Ulyanovsk', 'Indian/Mahe', 'Indian/Mauritius', 'Indian/Reunion',
  ] },
  { offsets: [120, 180], zones: [
    'Asia/Beirut',
  ] },
  { offsets: [360], zones: [
    'Asia/Bishkek', 'Asia/Dacca', 'Asia/Dhaka', 'Asia/Kashgar', 'Asia/Omsk', 'Asia/Thimbu', 'Asia/Thimphu',
    'Asia/Urumqi', 'Etc/GMT-6', 'Indian/Chagos',
  ] },
  { offsets: [330], zones: [
    'Asia/Calcutta', 'Asia/Kolkata',
  ] },
  { offsets: [540], zones: [
    'Asia/Chita', 'Asia/Dili', 'Asia/Khandyga', 'Asia/Yakutsk', 'Etc/GMT-9', 'Pacific/Palau',
  ] },
  { offsets: [480], zones: [
    'Asia/Chongqing', 'Asia/Chungking', 'Asia/Harbin', 'Asia/Macao', 'Asia/Macau', 'Asia/Shanghai', 'Asia/Taipei',
    'PRC', 'ROC',
  ] },
  { offsets: [330], zones: [
    'Asia/Colombo',
  ] },
  { offsets: [120, 180], zones: [
    'Asia/Famagusta', 'EET', 'Europe/Athens', 'Europe/Bucharest', 'Europe/Chisinau', 'Europe/Helsinki',
    'Europe/Mariehamn', 'Europe/Riga', 'Europe/Sofia', 'Europe/Tallinn', 'Europe/Tiraspol', 'Europe/Vilnius',
  ] },
  { offsets: [120, 180], zones: [
    'Asia/Gaza', 'Asia/Hebron',
  ] },
  { offsets: [480], zones: [
    'Asia/Hong_Kong', 'Hongkong',
  ] },
  { offsets: [420], zones: [
    'Asia/Jakarta', 'Asia/Pontianak',
  ] },
  { offsets: [540], zones: [
    'Asia/Jayapura',
  ] },
  { offsets: [120, 180], zones: [
    'Asia/Jerusalem', 'Asia/Tel_Aviv', 'Israel',
  ] },
  { offsets: [270], zones: [
    'Asia/Kabul',
  ] },
  { offsets: [300], zones: [
    'Asia/Karachi',
  ] },
  { offsets: [345], zones: [
    'Asia/Kathmandu', 'Asia/Katmandu',
  ] },
  { offsets: [660], zones: [
    'Asia/Magadan', 'Asia/Sakhalin', 'Asia/Srednekolymsk', 'Etc/GMT-11', 'Pacific/Bougainville', 'Pacific/Efate',
    'Pacific/Guadalcanal', 'Pacific/Kosrae', 'Pacific/Noumea', 'Pacific/Pohnpei', 'Pacific/Ponape',
  ] },
  { offsets: [480], zones: [
    'Asia/Makassar', 'Asia/Ujung_Pandang',
  ] },
  { offsets: [480], zones: [
    'Asia/Manila',
  ] },
  { offsets: [120, 180], zones: [
    'Asia/Nicosia', 'Europe/Kiev', 'Europe/Kyiv', 'Europe/Nicosia', 'Europe/Uzhgorod', 'Europe/Zaporozhye',
  ] },
  { offsets: [540], zones: [
    'Asia/Pyongyang', 'Asia/Seoul', 'ROK',
  ] },
  { offsets: [390], zones: [
    'Asia/Rangoon', 'Asia/Yangon', 'Indian/Cocos',
  ] },
  { offsets: [210], zones: [
    'Asia/Tehran', 'Iran',
  ] },
  { offsets: [540], zones: [
    'Asia/Tokyo', 'Japan',
  ] },
  { offsets: [-60, 0], zones: [
    'Atlantic/Azores',
  ] },
  { offsets: [0, 60], zones: [
    'Atlantic/Canary', 'Atlantic/Faeroe', 'Atlantic/Faroe', 'Atlantic/Madeira',
  ] },
  { offsets: [-60], zones: [
    'Atlantic/Cape_Verde', 'Etc/GMT+1',
  ] },
  { offsets: [570, 630], zones: [
    'Australia/Adelaide', 'Australia/Broken_Hill', 'Australia/South', 'Australia/Yancowinna',
  ] },
  { offsets: [600], zones: [
    'Australia/Brisbane', 'Australia/Lindeman', 'Australia/Queensland',
  ] },
  { offsets: [600, 660], zones: [
    'Australia/Currie', 'Australia/Hobart', 'Australia/Tasmania',
  ] },
  { offsets: [570], zones: [
    'Australia/Darwin', 'Australia/North',
  ] },
  { offsets: [525], zones: [
    'Australia/Eucla',
  ] },
  { offsets: [630, 660], zones: [
    'Australia/LHI', 'Australia/Lord_Howe',
  ] },
  { offsets: [480], zones: [
    'Australia/Perth', 'Australia/West',
  ] },
  { offsets: [-360, -300], zones: [
    'Chile/EasterIsland', 'Pacific/Easter',
  ] },
  { offsets: [0, 60], zones: [
    'Eire', 'Europe/Dublin',
  ] },
  { offsets: [-600], zones: [
    'Etc/GMT+10', 'Pacific/Rarotonga', 'Pacific/Tahiti',
  ] },
  { offsets: [-660], zones: [
    'Etc/GMT+11', 'Pacific/Niue',
  ] },
  { offsets: [-720], zones: [
    'Etc/GMT+12',
  ] },
  { offsets: [-360], zones: [
    'Etc/GMT+6', 'Pacific/Galapagos',
  ] },
  { offsets: [-420], zones: [
    'Etc/GMT+7',
  ] },
  { offsets: [-480], zones: [
    'Etc/GMT+8', 'Pacific/Pitcairn',
  ] },
  { offsets: [-540], zones: [
    'Etc/GMT+9', 'Pacific/Gambier',
  ] },
  { offsets: [60], zones: [
    'Etc/GMT-1',
  ] },
  { offsets: [780], zones: [
    'Etc/GMT-13', 'Pacific/Apia', 'Pacific/Enderbury', 'Pacific/Fakaofo', 'Pacific/Kanton', 'Pacific/Tongatapu',
  ] },
  { offsets: [840], zones: [
    'Etc/GMT-14', 'Pacific/Kiritimati',
  ] },
  { offsets: [120], zones: [
    'Etc/GMT-2',
  ] },
  { offsets: [0], zones: [
    'Etc/UCT', 'Etc/UTC', 'Etc/Universal', 'Etc/Zulu', 'UCT', 'UTC', 'Universal', 'Zulu',
  ] },
  { offsets: [0, 60], zones: [
    'Europe/Belfast', 'Europe/Guernsey', 'Europe/Isle_of_Man', 'Europe/Jersey', 'Europe/London', 'GB', 'GB-Eire',
  ] },
  { offsets: [180], zones: [
    'Europe/Kirov', 'Europe/Moscow', 'Europe/Simferopol', 'Europe/Volgograd', 'W-SU',
  ] },
  { offsets: [0, 60], zones: [
    'Europe/Lisbon', 'Portugal', 'WET',
  ] },
  { offsets: [-600], zones: [
    'HST', 'Pacific/Honolulu', 'Pacific/Johnston', 'US/Hawaii',
  ] },
  { offsets: [765, 825], zones: [
    'NZ-CHAT', 'Pacific/Chatham',
  ] },
  { offsets: [600], zones: [
    'Pacific/Guam', 'Pacific/Saipan',
  ] },
  { offsets: [-570], zones: [
    'Pacific/Marquesas',
  ] },
  { offsets: [-660], zones: [
    'Pacific/Midway', 'Pacific/Pago_Pago', 'Pacific/Samoa', 'US/Samoa',
  ] },
  { offsets: [660, 720], zones: [
    'Pacific/Norfolk',
  ] },
];
