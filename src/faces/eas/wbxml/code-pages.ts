/**
 * The ActiveSync WBXML code pages of [MS-ASWBXML] section 2.1.2.1: each page's number, the XML namespace
 * Microsoft names it by, and its tags. A page's tags are written as one whitespace-separated list in
 * token order starting at token 0x05 (0x00-0x04 are WBXML's global tokens); `-` marks a token the
 * specification leaves unassigned. Names and tokens follow the current specification, which dropped
 * tokens only protocol 2.5 used; those are unknown here, as this server speaks 14.0 and later.
 */

export interface CodePage {
  readonly page: number;
  readonly ns: string;
  /** Tag name by token (0x05-0x3F); undefined where the page assigns none. */
  readonly names: readonly (string | undefined)[];
  readonly tokens: ReadonlyMap<string, number>;
}

const firstToken = 0x05;
/** Bits 6 and 7 of a tag byte are the content and attribute flags, so tokens stop at 0x3F. */
const lastToken = 0x3f;

function page(number: number, ns: string, tags: string): CodePage {
  const names: (string | undefined)[] = [];
  const tokens = new Map<string, number>();
  const list = tags.split(/\s+/).filter((t) => t !== '');
  list.forEach((name, i) => {
    const token = firstToken + i;
    if (token > lastToken) throw new Error(`code page ${ns}: token 0x${token.toString(16)} is out of range`);
    if (name === '-') return;
    if (tokens.has(name)) throw new Error(`code page ${ns}: tag ${name} appears twice`);
    names[token] = name;
    tokens.set(name, token);
  });
  return { page: number, ns, names, tokens };
}

export const codePages: readonly CodePage[] = [
  // 2.1.2.1.1 Code Page 0: AirSync
  page(0, 'AirSync', `
    Sync Responses Add Change Delete Fetch SyncKey ClientId ServerId Status Collection Class -
    CollectionId GetChanges MoreAvailable WindowSize Commands Options FilterType - - Conflict
    Collections ApplicationData DeletesAsMoves - Supported SoftDelete MIMESupport MIMETruncation Wait
    Limit Partial ConversationMode MaxItems HeartbeatInterval`),
  // 2.1.2.1.2 Code Page 1: Contacts
  page(1, 'Contacts', `
    Anniversary AssistantName AssistantPhoneNumber Birthday - - - Business2PhoneNumber
    BusinessAddressCity BusinessAddressCountry BusinessAddressPostalCode BusinessAddressState
    BusinessAddressStreet BusinessFaxNumber BusinessPhoneNumber CarPhoneNumber Categories Category
    Children Child CompanyName Department Email1Address Email2Address Email3Address FileAs FirstName
    Home2PhoneNumber HomeAddressCity HomeAddressCountry HomeAddressPostalCode HomeAddressState
    HomeAddressStreet HomeFaxNumber HomePhoneNumber JobTitle LastName MiddleName MobilePhoneNumber
    OfficeLocation OtherAddressCity OtherAddressCountry OtherAddressPostalCode OtherAddressState
    OtherAddressStreet PagerNumber RadioPhoneNumber Spouse Suffix Title WebPage YomiCompanyName
    YomiFirstName YomiLastName - Picture Alias WeightedRank`),
  // 2.1.2.1.3 Code Page 2: Email
  page(2, 'Email', `
    - - - - - - - - - - DateReceived - DisplayTo Importance MessageClass Subject Read To Cc From
    ReplyTo AllDayEvent Categories Category DtStamp EndTime InstanceType BusyStatus Location
    MeetingRequest Organizer RecurrenceId Reminder ResponseRequested Recurrences Recurrence Type Until
    Occurrences Interval DayOfWeek DayOfMonth WeekOfMonth MonthOfYear StartTime Sensitivity TimeZone
    GlobalObjId ThreadTopic - - - InternetCPID Flag Status ContentClass FlagType CompleteTime
    DisallowNewTimeProposal`),
  // 2.1.2.1.4 Code Page 3: AirNotify (no longer in use; the specification assigns no tags)
  page(3, 'AirNotify', ''),
  // 2.1.2.1.5 Code Page 4: Calendar
  page(4, 'Calendar', `
    Timezone AllDayEvent Attendees Attendee Email Name - - BusyStatus Categories Category - DtStamp
    EndTime Exception Exceptions Deleted ExceptionStartTime Location MeetingStatus OrganizerEmail
    OrganizerName Recurrence Type Until Occurrences Interval DayOfWeek DayOfMonth WeekOfMonth
    MonthOfYear Reminder Sensitivity Subject StartTime UID AttendeeStatus AttendeeType - - - - - - - -
    DisallowNewTimeProposal ResponseRequested AppointmentReplyTime ResponseType CalendarType
    IsLeapMonth FirstDayOfWeek OnlineMeetingConfLink OnlineMeetingExternalLink ClientUid`),
  // 2.1.2.1.6 Code Page 5: Move
  page(5, 'Move', 'MoveItems Move SrcMsgId SrcFldId DstFldId Response Status DstMsgId'),
  // 2.1.2.1.7 Code Page 6: GetItemEstimate
  page(6, 'GetItemEstimate', 'GetItemEstimate - Collections Collection Class CollectionId - Estimate Response Status'),
  // 2.1.2.1.8 Code Page 7: FolderHierarchy
  page(7, 'FolderHierarchy', `
    - - DisplayName ServerId ParentId Type - Status - Changes Add Delete Update SyncKey FolderCreate
    FolderDelete FolderUpdate FolderSync Count`),
  // 2.1.2.1.9 Code Page 8: MeetingResponse
  page(8, 'MeetingResponse', `
    CalendarId CollectionId MeetingResponse RequestId Request Result Status UserResponse - InstanceId
    - - - SendResponse`),
  // 2.1.2.1.10 Code Page 9: Tasks
  page(9, 'Tasks', `
    - - - Categories Category Complete DateCompleted DueDate UtcDueDate Importance Recurrence Type
    Start Until Occurrences Interval DayOfMonth DayOfWeek WeekOfMonth MonthOfYear Regenerate DeadOccur
    ReminderSet ReminderTime Sensitivity StartDate UtcStartDate Subject - OrdinalDate SubOrdinalDate
    CalendarType IsLeapMonth FirstDayOfWeek`),
  // 2.1.2.1.11 Code Page 10: ResolveRecipients
  page(10, 'ResolveRecipients', `
    ResolveRecipients Response Status Type Recipient DisplayName EmailAddress Certificates Certificate
    MiniCertificate Options To CertificateRetrieval RecipientCount MaxCertificates
    MaxAmbiguousRecipients CertificateCount Availability StartTime EndTime MergedFreeBusy Picture
    MaxSize Data MaxPictures`),
  // 2.1.2.1.12 Code Page 11: ValidateCert
  page(11, 'ValidateCert', 'ValidateCert Certificates Certificate CertificateChain CheckCrl Status'),
  // 2.1.2.1.13 Code Page 12: Contacts2
  page(12, 'Contacts2', `
    CustomerId GovernmentId IMAddress IMAddress2 IMAddress3 ManagerName CompanyMainPhone AccountName
    NickName MMS`),
  // 2.1.2.1.14 Code Page 13: Ping
  page(13, 'Ping', 'Ping - Status HeartbeatInterval Folders Folder Id Class MaxFolders'),
  // 2.1.2.1.15 Code Page 14: Provision
  page(14, 'Provision', `
    Provision Policies Policy PolicyType PolicyKey Data Status RemoteWipe EASProvisionDoc
    DevicePasswordEnabled AlphanumericDevicePasswordRequired RequireStorageCardEncryption
    PasswordRecoveryEnabled - AttachmentsEnabled MinDevicePasswordLength MaxInactivityTimeDeviceLock
    MaxDevicePasswordFailedAttempts MaxAttachmentSize AllowSimpleDevicePassword
    DevicePasswordExpiration DevicePasswordHistory AllowStorageCard AllowCamera
    RequireDeviceEncryption AllowUnsignedApplications AllowUnsignedInstallationPackages
    MinDevicePasswordComplexCharacters AllowWiFi AllowTextMessaging AllowPOPIMAPEmail AllowBluetooth
    AllowIrDA RequireManualSyncWhenRoaming AllowDesktopSync MaxCalendarAgeFilter AllowHTMLEmail
    MaxEmailAgeFilter MaxEmailBodyTruncationSize MaxEmailHTMLBodyTruncationSize
    RequireSignedSMIMEMessages RequireEncryptedSMIMEMessages RequireSignedSMIMEAlgorithm
    RequireEncryptionSMIMEAlgorithm AllowSMIMEEncryptionAlgorithmNegotiation AllowSMIMESoftCerts
    AllowBrowser AllowConsumerEmail AllowRemoteDesktop AllowInternetSharing
    UnapprovedInROMApplicationList ApplicationName ApprovedApplicationList Hash AccountOnlyRemoteWipe`),
  // 2.1.2.1.16 Code Page 15: Search
  page(15, 'Search', `
    Search - Store Name Query Options Range Status Response Result Properties Total EqualTo Value And
    Or FreeText - DeepTraversal LongId RebuildResults LessThan GreaterThan - - UserName Password
    ConversationId Picture MaxSize MaxPictures`),
  // 2.1.2.1.17 Code Page 16: GAL
  page(16, 'GAL', `
    DisplayName Phone Office Title Company Alias FirstName LastName HomePhone MobilePhone EmailAddress
    Picture Status Data`),
  // 2.1.2.1.18 Code Page 17: AirSyncBase
  page(17, 'AirSyncBase', `
    BodyPreference Type TruncationSize AllOrNone - Body Data EstimatedDataSize Truncated Attachments
    Attachment DisplayName FileReference Method ContentId ContentLocation IsInline NativeBodyType
    ContentType Preview BodyPartPreference BodyPart Status Add Delete ClientId Content Location
    Annotation Street City State Country PostalCode Latitude Longitude Accuracy Altitude
    AltitudeAccuracy LocationUri InstanceId`),
  // 2.1.2.1.19 Code Page 18: Settings
  page(18, 'Settings', `
    Settings Status Get Set Oof OofState StartTime EndTime OofMessage AppliesToInternal
    AppliesToExternalKnown AppliesToExternalUnknown Enabled ReplyMessage BodyType DevicePassword
    Password DeviceInformation Model IMEI FriendlyName OS OSLanguage PhoneNumber UserInformation
    EmailAddresses SMTPAddress UserAgent EnableOutboundSMS MobileOperator PrimarySmtpAddress Accounts
    Account AccountId AccountName UserDisplayName SendDisabled - RightsManagementInformation`),
  // 2.1.2.1.20 Code Page 19: DocumentLibrary
  page(19, 'DocumentLibrary', `
    LinkId DisplayName IsFolder CreationDate LastModifiedDate IsHidden ContentLength ContentType`),
  // 2.1.2.1.21 Code Page 20: ItemOperations
  page(20, 'ItemOperations', `
    ItemOperations Fetch Store Options Range Total Properties Data Status Response Version Schema Part
    EmptyFolderContents DeleteSubFolders UserName Password Move DstFldId ConversationId MoveAlways`),
  // 2.1.2.1.22 Code Page 21: ComposeMail
  page(21, 'ComposeMail', `
    SendMail SmartForward SmartReply SaveInSentItems ReplaceMime - Source FolderId ItemId LongId
    InstanceId Mime ClientId Status AccountId - Forwardees Forwardee ForwardeeName ForwardeeEmail`),
  // 2.1.2.1.23 Code Page 22: Email2
  page(22, 'Email2', `
    UmCallerID UmUserNotes UmAttDuration UmAttOrder ConversationId ConversationIndex LastVerbExecuted
    LastVerbExecutionTime ReceivedAsBcc Sender CalendarType IsLeapMonth AccountId FirstDayOfWeek
    MeetingMessageType - IsDraft Bcc Send`),
  // 2.1.2.1.24 Code Page 23: Notes
  page(23, 'Notes', 'Subject MessageClass LastModifiedDate Categories Category'),
  // 2.1.2.1.25 Code Page 24: RightsManagement
  page(24, 'RightsManagement', `
    RightsManagementSupport RightsManagementTemplates RightsManagementTemplate RightsManagementLicense
    EditAllowed ReplyAllowed ReplyAllAllowed ForwardAllowed ModifyRecipientsAllowed ExtractAllowed
    PrintAllowed ExportAllowed ProgrammaticAccessAllowed Owner ContentExpiryDate TemplateID
    TemplateName TemplateDescription ContentOwner RemoveRightsManagementProtection`),
  // 2.1.2.1.26 Code Page 25: Find (protocol 16.1)
  page(25, 'Find', `
    Find SearchId ExecuteSearch MailBoxSearchCriterion Query Status FreeText Options Range
    DeepTraversal - - Response Result Properties Preview HasAttachments Total DisplayCc DisplayBcc
    GalSearchCriterion - - - - - - MaxPictures MaxSize Picture`),
];

const byNs = new Map(codePages.map((p) => [p.ns, p]));

/** The code page of a namespace as Microsoft names it ("AirSync", "AirSyncBase", ...). */
export function codePageOf(ns: string): CodePage | undefined {
  return byNs.get(ns);
}
