//! Rules: a multilingual Aho-Corasick lexicon of injection phrases, structural regexes, and
//! log-aware suppressions that cancel rule hits on known-benign log idioms.

use std::ops::Range;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::{Regex, RegexSet, RegexSetBuilder};

use crate::normalize::{fold_str, View, ViewKind};

/// Version of the rule set; bump when rules, weights or suppressions change.
pub const RULESET_VERSION: &str = "rules-2026.11-2";

/// Weight of rules that alone justify rejection.
const STRONG: f32 = 6.0;
/// Weight of rules that need a second signal.
const MEDIUM: f32 = 3.0;
/// Weight of weak hints.
const WEAK: f32 = 1.5;

/// A lexicon group: id, weight, phrases (any language; folded at build time).
type Group = (&'static str, f32, &'static [&'static str]);

const LEXICON: &[Group] = &[
    (
        "lex.override.en",
        STRONG,
        &[
            "ignore previous instructions",
            "ignore all previous instructions",
            "ignore the previous instructions",
            "ignore prior instructions",
            "ignore all prior instructions",
            "ignore the above",
            "ignore everything above",
            "ignore all the above",
            "ignore your instructions",
            "ignore your previous",
            "ignore all instructions",
            "ignore any previous",
            "ignore earlier instructions",
            "ignore your task",
            "ignore the task",
            "ignore your rules",
            "ignore all rules",
            "ignore your guidelines",
            "ignore your system prompt",
            "disregard the above",
            "disregard previous",
            "disregard all previous",
            "disregard prior",
            "disregard your instructions",
            "disregard all instructions",
            "disregard your task",
            "disregard everything",
            "forget your instructions",
            "forget all previous",
            "forget previous instructions",
            "forget everything above",
            "forget your rules",
            "forget your task",
            "forget everything you",
            "override your instructions",
            "override previous instructions",
            "stop what you are doing",
            "abandon your task",
            "drop your current task",
            "instead of fixing",
            "instead of debugging",
            "do not fix this",
            "don't fix this bug",
        ],
    ),
    (
        "lex.override.multi",
        STRONG,
        &[
            // de
            "ignoriere alle vorherigen anweisungen",
            "ignoriere die vorherigen anweisungen",
            "ignoriere deine anweisungen",
            "ignoriere alle anweisungen",
            "ignoriere alles oben",
            "vergiss alle vorherigen",
            "vergiss deine anweisungen",
            "vergiss deine regeln",
            "missachte alle",
            // fr
            "ignore les instructions précédentes",
            "ignorez les instructions précédentes",
            "ignore toutes les instructions",
            "ignorez toutes les instructions",
            "ignore tes instructions",
            "ignorez vos instructions",
            "oublie tes instructions",
            "oubliez vos instructions",
            "oublie tes règles",
            "oubliez toutes",
            // es
            "ignora las instrucciones anteriores",
            "ignora todas las instrucciones",
            "ignora tus instrucciones",
            "ignore las instrucciones anteriores",
            "olvida tus instrucciones",
            "olvida tus reglas",
            "olvida todas las",
            // pt
            "ignore as instruções anteriores",
            "ignora as instruções anteriores",
            "ignore todas as instruções",
            "ignore suas instruções",
            "esqueça suas instruções",
            "esqueça as suas regras",
            "esqueça suas regras",
            "esqueça todas as",
            // it
            "ignora le istruzioni precedenti",
            "ignora tutte le istruzioni",
            "ignora le tue istruzioni",
            "dimentica le tue istruzioni",
            "dimentica le istruzioni",
            "dimentica le tue regole",
            // nl
            "negeer alle vorige instructies",
            "negeer de vorige instructies",
            "negeer alle instructies",
            "negeer je instructies",
            "vergeet je instructies",
            "vergeet alle vorige",
            "vergeet je regels",
            // pl
            "zignoruj poprzednie instrukcje",
            "zignoruj wszystkie poprzednie",
            "zignoruj wszystkie instrukcje",
            "zignoruj swoje instrukcje",
            "zapomnij o swoich instrukcjach",
            "zapomnij o poprzednich",
            "zapomnij swoje",
            // ru
            "игнорируй предыдущие инструкции",
            "игнорируй все предыдущие",
            "игнорируй все инструкции",
            "проигнорируй предыдущие",
            "проигнорируй все",
            "забудь свои инструкции",
            "забудь все предыдущие",
            "забудь свои правила",
            "забудь все инструкции",
            // uk
            "ігноруй попередні інструкції",
            "ігноруй усі попередні",
            "ігноруй всі інструкції",
            "проігноруй",
            "забудь свої інструкції",
            "забудь усі попередні",
            "забудь свої правила",
            // zh
            "忽略之前的指令",
            "忽略以上",
            "忽略上述",
            "忽略所有",
            "忽略先前",
            "忽略前面的",
            "忽略你的指令",
            "忘记你的指令",
            "忘记之前的",
            "无视之前",
            "无视所有",
            "不要理会之前",
            // ja
            "以前の指示を無視",
            "前の指示を無視",
            "指示を無視して",
            "上記の指示を無視",
            "上記を無視",
            "すべての指示を無視",
            "これまでの指示を無視",
            "ルールを忘れ",
            "指示を忘れ",
            // ko
            "이전 지시를 무시",
            "이전 지침을 무시",
            "모든 지시를 무시",
            "모든 지침을 무시",
            "이전의 모든 지시",
            "지시사항을 무시",
            "규칙을 잊어",
            "지시를 잊어",
            // tr
            "önceki talimatları yok say",
            "tüm talimatları yok say",
            "önceki tüm talimatları",
            "talimatları görmezden gel",
            "kuralları unut",
            "talimatlarını unut",
            // ar
            "تجاهل التعليمات السابقة",
            "تجاهل جميع التعليمات",
            "تجاهل كل التعليمات",
            "انس تعليماتك",
            "انسَ تعليماتك",
            "تجاهل تعليماتك",
            "انس قواعدك",
            // hi
            "पिछले निर्देशों को अनदेखा",
            "सभी निर्देशों को अनदेखा",
            "पिछले सभी निर्देश",
            "निर्देशों को भूल",
            "नियमों को भूल",
            "निर्देशों को नजरअंदाज",
            // vi
            "bỏ qua các hướng dẫn trước",
            "bỏ qua mọi hướng dẫn",
            "bỏ qua tất cả hướng dẫn",
            "bỏ qua các chỉ dẫn",
            "quên các hướng dẫn",
            "quên quy tắc",
            "quên mọi",
            // id
            "abaikan instruksi sebelumnya",
            "abaikan semua instruksi",
            "abaikan instruksi",
            "lupakan instruksi",
            "lupakan aturan",
            "abaikan perintah sebelumnya",
        ],
    ),
    (
        "lex.role.en",
        MEDIUM,
        &[
            "from now on you",
            "from now on, you",
            "updated instructions",
            "your new task",
            "your real task",
            "your actual task",
            "your new instructions",
            "act as an unrestricted",
            "you are no longer",
            "pretend you are",
            "pretend to be an",
            "developer mode",
            "jailbroken",
            "jailbreak mode",
            "do anything now",
            "no restrictions",
            "without any restrictions",
            "unfiltered ai",
            "without moral",
            "without censorship",
            "stay in character",
            "i want you to act as",
            "roleplay as",
            "the real instructions",
            "hidden instructions",
            "important instructions for",
        ],
    ),
    (
        "lex.role.multi",
        MEDIUM,
        &[
            "du bist jetzt",
            "ab jetzt bist du",
            "neue anweisungen",
            "deine neue aufgabe",
            "tu es maintenant",
            "vous êtes maintenant",
            "nouvelles instructions",
            "ta nouvelle tâche",
            "votre nouvelle tâche",
            "ahora eres",
            "nuevas instrucciones",
            "tu nueva tarea",
            "agora você é",
            "novas instruções",
            "sua nova tarefa",
            "ora sei",
            "nuove istruzioni",
            "il tuo nuovo compito",
            "je bent nu",
            "nieuwe instructies",
            "je nieuwe taak",
            "jesteś teraz",
            "nowe instrukcje",
            "twoje nowe zadanie",
            "теперь ты",
            "новые инструкции",
            "твоя новая задача",
            "тепер ти",
            "нові інструкції",
            "твоє нове завдання",
            "你现在是",
            "新的指令",
            "新指令",
            "你的新任务",
            "あなたは今",
            "新しい指示",
            "新しいタスク",
            "너는 이제",
            "당신은 이제",
            "새로운 지시",
            "새 지시",
            "artık sen",
            "yeni talimatlar",
            "yeni görevin",
            "أنت الآن",
            "تعليمات جديدة",
            "مهمتك الجديدة",
            "अब तुम",
            "अब आप",
            "नए निर्देश",
            "bây giờ bạn là",
            "hướng dẫn mới",
            "nhiệm vụ mới của bạn",
            "sekarang kamu adalah",
            "sekarang anda adalah",
            "instruksi baru",
            "tugas barumu",
        ],
    ),
    ("lex.role.weak", WEAK, &["you are now", "new instructions"]),
    (
        "lex.secrecy",
        MEDIUM,
        &[
            "do not tell the user",
            "don't tell the user",
            "do not mention this",
            "don't mention this",
            "do not inform the user",
            "without telling the user",
            "do not reveal these instructions",
            "keep this secret from",
            "do not alert",
            "without asking for confirmation",
            "without asking the user",
            "no need to ask",
            "sag dem benutzer nicht",
            "ne dis pas à l'utilisateur",
            "no le digas al usuario",
            "não diga ao usuário",
            "non dirlo all'utente",
            "не говори пользователю",
            "不要告诉用户",
            "ユーザーに伝えない",
            "사용자에게 알리지",
        ],
    ),
    (
        "lex.sysprompt",
        WEAK,
        &[
            "system prompt",
            "your instructions",
            "your guidelines",
            "initial instructions",
            "original instructions",
            "reveal your prompt",
            "print your prompt",
            "repeat the words above",
            "repeat everything above",
            "系统提示",
            "システムプロンプト",
            "시스템 프롬프트",
            "системный промпт",
            "системные инструкции",
        ],
    ),
    (
        "lex.roletag",
        STRONG,
        &[
            "<|im_start|>",
            "<|im_end|>",
            "<|system|>",
            "<|user|>",
            "<|assistant|>",
            "[inst]",
            "[/inst]",
            "<<sys>>",
            "<|endoftext|>",
            "<|begin_of_text|>",
            "<|start_header_id|>",
            "</s><s>",
        ],
    ),
    (
        "lex.ai_address",
        MEDIUM,
        &[
            "ai agent",
            "ai assistant",
            "coding agent",
            "ai model",
            "language model",
            "llm agent",
            "to the ai",
            "dear ai",
            "hey ai",
            "attention ai",
            "note to ai",
            "note to the ai",
            "agents reading this",
            "any ai reading",
            "if you are an ai",
            "if you are an llm",
            "automated agent",
            "assistant reading",
            "ki-agent",
            "ki-assistent",
            "agent ia",
            "assistant ia",
            "agente de ia",
            "agente ia",
            "assistente ia",
            "agente di ia",
            "ai-agent",
            "agencie ai",
            "asystencie ai",
            "ии-агент",
            "ии агент",
            "ші-агент",
            "ai代理",
            "ai助手",
            "人工智能",
            "aiエージェント",
            "ai 에이전트",
            "yapay zeka",
            "وكيل الذكاء",
            "एआई एजेंट",
            "tác tử ai",
            "trợ lý ai",
            "agen ai",
            "asisten ai",
        ],
    ),
];

/// Phrases matched on the despaced view (letters and digits only).
const COMPACT: &[Group] = &[(
    "lex.override.compact",
    STRONG,
    &[
        "ignorepreviousinstructions",
        "ignoreallpreviousinstructions",
        "ignoretheaboveinstructions",
        "ignoreallpriorinstructions",
        "ignoreyourinstructions",
        "disregardpreviousinstructions",
        "disregardtheabove",
        "disregardallprevious",
        "forgetyourinstructions",
        "forgetallpreviousinstructions",
        "ignoreeverythingabove",
        "ignoreyourtask",
        "ignorepriorinstructions",
        "ignoretheprevious",
    ],
)];

/// Structural regexes: (id, weight, pattern). Patterns are case-insensitive.
const PATTERNS: &[(&str, f32, &str)] = &[
    (
        "re.ai_imperative",
        STRONG,
        r"\b(ai|assistant|agent|llm|model|copilot|claude|gpt|chatgpt|gemini|codex|bot)\b[,:;!\s-]+(please\s+|now\s+|immediately\s+)?(ignore|disregard|forget|stop|run|execute|delete|push|send|upload|exfiltrate|post|email|curl|reveal|print|output|mark|close|approve|merge|disable|skip|drop|leak|transfer|include|add|write|rm)\b",
    ),
    (
        "re.when_you_read",
        WEAK,
        r"\b(when|if|once|after)\s+you\s+(read|see|process|encounter|parse|analy[sz]e|find|are reading)\s+(this|these|the following)",
    ),
    (
        "re.ignore_generic",
        STRONG,
        r"\b(ignore|disregard|forget|override|bypass)\s+(all\s+|any\s+|the\s+|your\s+|my\s+|of\s+)*(previous|prior|above|earlier|preceding|original|initial|system|safety|existing|former)\s+(\w+\s+)?(instructions?|prompts?|rules|directives|guidelines|context|messages?|commands?|tasks?|orders)",
    ),
    (
        "re.shell_pipe",
        MEDIUM,
        r"\b(curl|wget)\s+[^\n|]{1,200}\|\s*(sudo\s+)?(ba|z)?sh\b",
    ),
    ("re.rm_rf", MEDIUM, r"\brm\s+-(rf|fr)\s+(/|~|\*|\$home)"),
    (
        "re.force_push",
        MEDIUM,
        r"\bgit\s+push\s+[^\n]{0,80}(--force|-f\b)",
    ),
    (
        "re.exfil",
        STRONG,
        r"\b(send|push|upload|post|email|e-mail|exfiltrate|forward|transmit|copy|paste|leak|share|write|include|append|dump|publish|commit)\b[^\n.]{0,60}\b(credentials?|secrets?|\.env\b|env\s+vars?|environment\s+variables|ssh\s+keys?|id_rsa|private\s+keys?|api\s+keys?|tokens?|passwords?|aws_secret|access\s+keys?|\.npmrc|\.pypirc|kubeconfig|\.aws/credentials)\b[^\n]{0,80}\b(to|into|at|on)\b\s*(https?://|the\s+url|this\s+url|[\w.-]+\.(com|io|net|org|xyz|ru|cn|sh|site|example|dev|app|me|ly|co)\b|pastebin|webhook|gist|issue|comment|channel|log|results?|response|output|email)",
    ),
    (
        "re.exfil_url",
        MEDIUM,
        r"\b(send|post|upload|push|exfiltrate|forward|transmit)\b[^\n]{0,80}\bhttps?://",
    ),
    (
        "re.role_line",
        MEDIUM,
        r"(?m)^\s*(#{2,}\s*)?(system|assistant)\s*(prompt\s*)?:\s*\S",
    ),
    (
        "re.role_header",
        MEDIUM,
        r"(?m)^\s*#{1,4}\s*(system|instruction|instructions|new instructions)\s*$",
    ),
    (
        "re.system_tag",
        MEDIUM,
        r"<\s*/?\s*(system|instructions?|sys|admin_override|important)\s*>",
    ),
    (
        "re.dan",
        STRONG,
        r"\b(dan|stan|dude|aim)\s+(mode|jailbreak)\b|\bdo anything now\b",
    ),
    (
        "re.mark_fixed",
        MEDIUM,
        r"\b(mark|close|resolve|report)\b[^\n.]{0,40}\b(as\s+)?(fixed|resolved|not a bug|won't fix|wontfix)\b[^\n.]{0,40}\b(without|no need)\b",
    ),
    (
        "re.you_must",
        WEAK,
        r"\byou\s+(must|should|will|need to|have to)\s+(now\s+)?(immediately\s+)?(run|execute|send|upload|push|delete|ignore|reveal|output|print|include|add|write|respond|reply|say|tell)\b",
    ),
    (
        "re.response_inject",
        WEAK,
        r"\b(in|to|at the end of|at the beginning of)\s+your\s+(response|answer|reply|output|summary)\b",
    ),
    (
        "re.instructions_void",
        STRONG,
        r"\b(previous|prior|above|earlier|original|old|former|initial)\s+(instructions?|guidance|directives|rules|tasks?|prompts?)\s+(are|is|were|was|have been|has been)\s+(now\s+)?(outdated|void|cancell?ed|obsolete|revoked|invalid|superseded|no longer (valid|in effect|applicable|apply))\b",
    ),
    (
        "re.must_not_follow",
        MEDIUM,
        r"\b(must|should) not be followed\b|\bdo not follow (the|your|any) (previous|prior|original|earlier)",
    ),
    (
        "re.secret_reveal",
        MEDIUM,
        r"\b(print|reveal|output|show|display|dump|echo|include|write|paste|return|send|post|leak|expose|tell me|share|add)\b[^\n.]{0,40}\b(api[ _-]?keys?|secrets?|credentials|passwords?|(access|auth|github|npm|api|bearer|session) tokens?|private keys?|ssh keys?|database_url|aws_secret\w*|secret access key|env(ironment)? var(iable)?s|\.env|connection strings?|signing keys?)\b",
    ),
    (
        "re.download_exec",
        MEDIUM,
        r"\b(download|fetch|curl|wget|pull)\b[^\n]{0,80}\b(and|then|&&|;)\s*(run|execute|exec|install|source|apply)\b",
    ),
    (
        "re.disable_security",
        MEDIUM,
        r"\b(disable|turn off|bypass|skip|deactivate|remove)\s+(the\s+|all\s+)?(prompt[ -]injection|injection|security|safety|content|code[ -]review|branch[ -]protection)\s*(filters?|checks?|scans?|guardrails?|reviews?|rules?|protection)?\b",
    ),
    (
        "re.bogus_status",
        MEDIUM,
        r"\b(report|say|state|claim|respond|reply|answer|conclude)\b\s+(to the user\s+)?(that\s+)?(no (bug|issue|error|problem|vulnerabilit(y|ies))s? (exists?|was found|were found)|everything is (fine|ok|okay|working)|the (build|tests?|ci) (is|are) (green|passing)|(it|this) (is|was) (fixed|resolved))",
    ),
    (
        "re.mark_resolved",
        MEDIUM,
        r"\b(mark|set|flag)\s+(all|every|this|the|these)\b[^\n.]{0,40}\b(as|to)\s+(fixed|resolved|done|closed|passing|green)\b",
    ),
    (
        "re.grant_privilege",
        MEDIUM,
        r"\b(grant|give|assign|add)\b[^\n.]{0,30}\b(admin|owner|root|superuser|maintainer|write)\s+(rights|access|permissions?|privileges|role)\b",
    ),
    (
        "re.fake_header",
        STRONG,
        r"-{3,}\s*begin\s+(admin|system|developer|operator|root)\s+(override|instructions?|message|prompt)|#{2,}\s*(system|admin|developer|operator)\s+(message|override|instructions?|prompt)\b",
    ),
    (
        "re.merge_unreviewed",
        MEDIUM,
        r"\b(approve|merge|deploy|release)\b[^\n.]{0,50}\bwithout\s+(any\s+)?(review|approval|checks|tests|testing)\b",
    ),
    (
        "re.prompt_leak",
        STRONG,
        r"\bwhat\s+(were|are|was)\s+you\s+(told|instructed|asked|given)\b|\b(output|print|repeat|reveal|show|recite|dump)\s+(me\s+)?(the\s+)?(full\s+|entire\s+|exact\s+)?(text\s+of\s+)?your\s+(instructions|system prompt|prompt|rules|initial prompt|guidelines)",
    ),
    (
        "re.sql_destroy",
        MEDIUM,
        r"\b(run|execute|exec)\b[^\n]{0,30}\b(drop\s+(table|database)|truncate\s+table|delete\s+from)\b",
    ),
    (
        "re.task_hijack",
        MEDIUM,
        r"\b(cancel|abort|stop|halt|abandon|terminate)\s+(the\s+|your\s+)?(current|ongoing|active)?\s*(investigation|task|analysis|work|triage|debugging)\b",
    ),
];

/// Log-aware suppressions: (id, pattern, suppressed rule ids). A rule hit whose original span
/// overlaps a match of the pattern (in the raw text) is dropped.
const SUPPRESSIONS: &[(&str, &str, &[&str])] = &[
    (
        "sup.ignored_count",
        r"(?i)\bignor(e|ed|ing)\s+\d+\s+\w+",
        &["re.ignore_generic", "lex.override.en"],
    ),
    (
        "sup.override_config",
        r"(?i)\boverrid(e|es|ing|den)\s+(the\s+)?(\w+\s+)?(config|configuration|settings?|values?|defaults?|propert(y|ies)|env|rules)\b",
        &["re.ignore_generic"],
    ),
    (
        "sup.pam_session",
        r"(?i)pam_unix\([^)]*\):\s*session\s+(opened|closed)",
        &["*"],
    ),
    (
        "sup.windows_event_xml",
        r"(?i)<\s*/?\s*System\s*>|<Event\s+xmlns=",
        &["re.system_tag"],
    ),
    (
        "sup.code_identifier",
        r"(?i)[A-Za-z0-9_./]system[ _-]?prompt|system[ _-]?prompt[A-Za-z0-9_(.\[/]",
        &["lex.sysprompt"],
    ),
    (
        "sup.password_incorrect",
        r"(?i)\bpassword\s+(incorrect|invalid|mismatch|expired|failed)\s+for\s+(user|account)\b",
        &["re.exfil", "re.exfil_url"],
    ),
    (
        "sup.config_key",
        r"(?m)^\s*[A-Za-z0-9_.-]+\s*[:=]\s*(true|false|\d+)\s*$",
        &["re.role_line"],
    ),
];

/// One rule hit before mapping to the original text.
#[derive(Debug, Clone, PartialEq)]
pub struct RawHit {
    /// Rule id.
    pub id: &'static str,
    /// Rule weight (logit contribution).
    pub weight: f32,
    /// View in which the rule matched.
    pub view: ViewKind,
    /// Byte span in the ORIGINAL text.
    pub span: Range<usize>,
}

struct Compiled {
    ac: AhoCorasick,
    ac_meta: Vec<(&'static str, f32)>,
    compact: AhoCorasick,
    compact_meta: Vec<(&'static str, f32)>,
    set: RegexSet,
    regexes: Vec<Regex>,
    sup: Vec<(&'static str, Regex, &'static [&'static str])>,
}

fn build_ac(groups: &[Group]) -> (AhoCorasick, Vec<(&'static str, f32)>) {
    let mut pats = Vec::new();
    let mut meta = Vec::new();
    for &(id, w, phrases) in groups {
        for p in phrases {
            pats.push(fold_str(p));
            meta.push((id, w));
        }
    }
    let ac = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .kind(Some(AhoCorasickKind::DFA))
        .build(&pats)
        .expect("lexicon builds");
    (ac, meta)
}

fn compiled() -> &'static Compiled {
    static C: OnceLock<Compiled> = OnceLock::new();
    C.get_or_init(|| {
        let (ac, ac_meta) = build_ac(LEXICON);
        let (compact, compact_meta) = build_ac(COMPACT);
        let pats: Vec<String> = PATTERNS
            .iter()
            // Scanned views are lowercase; ASCII word boundaries keep the lazy DFA usable on
            // non-ASCII text (a Unicode `\b` forces a slow fallback engine).
            .map(|(_, _, p)| p.replace(r"\b", r"(?-u:\b)"))
            .collect();
        let set = RegexSetBuilder::new(&pats)
            .dfa_size_limit(32 << 20)
            .build()
            .expect("patterns build");
        let regexes = pats
            .iter()
            .map(|p| Regex::new(p).expect("pattern builds"))
            .collect();
        let sup = SUPPRESSIONS
            .iter()
            .map(|&(id, p, ids)| (id, Regex::new(p).expect("suppression builds"), ids))
            .collect();
        Compiled {
            ac,
            ac_meta,
            compact,
            compact_meta,
            set,
            regexes,
            sup,
        }
    })
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Lexicon phrases must not start or end inside an ASCII word ("ai agent" ≠ "mail agent").
fn word_bounded(t: &[u8], s: usize, e: usize, pat_first: u8, pat_last: u8) -> bool {
    let left_ok = !is_word_byte(pat_first) || s == 0 || !is_word_byte(t[s - 1]);
    let right_ok = !is_word_byte(pat_last) || e >= t.len() || !is_word_byte(t[e]);
    left_ok && right_ok
}

/// Runs all rules on all views. Returns deduplicated hits (first view wins per rule id) and the
/// ids of suppressions that fired.
pub fn scan_views(original: &str, views: &[View]) -> (Vec<RawHit>, Vec<&'static str>) {
    let c = compiled();
    let mut hits: Vec<RawHit> = Vec::new();
    let push =
        |hits: &mut Vec<RawHit>, id: &'static str, weight: f32, view: &View, r: Range<usize>| {
            if hits.iter().any(|h| h.id == id) {
                return;
            }
            hits.push(RawHit {
                id,
                weight,
                view: view.kind,
                span: view.to_original(r),
            });
        };
    for v in views {
        let t = v.text.as_bytes();
        if v.kind == ViewKind::Despaced {
            for m in c.compact.find_iter(&v.text) {
                let (id, w) = c.compact_meta[m.pattern().as_usize()];
                push(&mut hits, id, w, v, m.start()..m.end());
            }
            continue;
        }
        for m in c.ac.find_iter(&v.text) {
            let (id, w) = c.ac_meta[m.pattern().as_usize()];
            let pat = &t[m.start()..m.end()];
            let (first, last) = (pat[0], pat[pat.len() - 1]);
            if word_bounded(t, m.start(), m.end(), first, last) {
                push(&mut hits, id, w, v, m.start()..m.end());
            }
        }
        if !matches!(
            v.kind,
            ViewKind::Folded
                | ViewKind::Skeleton
                | ViewKind::Deleeted
                | ViewKind::Base64
                | ViewKind::Hex
                | ViewKind::Base32
        ) {
            continue;
        }
        let matched = c.set.matches(&v.text);
        for i in matched.iter() {
            if let Some(m) = c.regexes[i].find(&v.text) {
                let (id, w, _) = PATTERNS[i];
                push(&mut hits, id, w, v, m.start()..m.end());
            }
        }
    }
    // Suppressions, matched on the original text.
    let mut fired: Vec<&'static str> = Vec::new();
    if !hits.is_empty() {
        for (sid, re, ids) in &c.sup {
            let spans: Vec<Range<usize>> = re.find_iter(original).map(|m| m.range()).collect();
            if spans.is_empty() {
                continue;
            }
            let before = hits.len();
            hits.retain(|h| {
                let targeted = ids.contains(&"*") || ids.contains(&h.id);
                let overlaps = spans
                    .iter()
                    .any(|s| s.start < h.span.end && h.span.start < s.end);
                !(targeted && overlaps)
            });
            if hits.len() != before {
                fired.push(sid);
            }
        }
    }
    (hits, fired)
}
