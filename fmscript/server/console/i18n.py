"""Every string the console shows, one table per language (English, zh-Hans); the ``fmscript_lang`` cookie picks.

Templates call ``t("key")`` (and ``t("key", name=...)`` for strings with ``{name}`` fields); a key missing from a
table is a bug that ``tests/server/test_console.py`` catches by comparing the tables.
"""
from __future__ import annotations

LANG_COOKIE = "fmscript_lang"
LANGUAGES = {"en": "English", "zh-Hans": "简体中文"}
DEFAULT = "en"

EN = {
    "title": "fmscript Admin Console",
    "nav.jobs": "Jobs", "nav.new": "New fine-tune", "nav.models": "Models", "nav.server": "Server",
    "nav.logout": "Log out", "nav.language": "Language", "nav.switch": "Switch",
    "login.title": "Log in", "login.key": "API key", "login.submit": "Log in",
    "login.help": "Enter the server's FMSCRIPT_API_KEY or a named key created on the Server page.",
    "login.wrong": "That key is not valid on this server.",
    "login.open": "This server runs without an API key: anyone who can reach it can use it.",
    "csrf.bad": "The form had expired. Please try again.",
    "jobs.title": "Fine-tuning jobs", "jobs.none": "No jobs yet.",
    "jobs.id": "Job", "jobs.status": "Status", "jobs.model": "Base model", "jobs.tuned": "Fine-tuned model",
    "jobs.progress": "Step", "jobs.loss": "Loss", "jobs.tps": "Tokens/s", "jobs.eta": "ETA",
    "jobs.created": "Created", "jobs.reason": "Reason", "jobs.live": "Updates live while jobs run.",
    "status.queued": "queued", "status.running": "running", "status.succeeded": "succeeded",
    "status.failed": "failed", "status.cancelled": "cancelled",
    "job.title": "Job {id}", "job.params": "Parameters", "job.events": "Events", "job.checkpoints": "Checkpoints",
    "job.no_checkpoints": "No checkpoint on disk (checkpoints are removed when a job ends).",
    "job.chart": "Loss", "job.train_loss": "training loss", "job.val_loss": "validation loss",
    "job.no_metrics": "No loss reported yet.", "job.cancel": "Cancel job", "job.cancelled": "The job was cancelled.",
    "job.not_found": "There is no job {id}.", "job.cannot_cancel": "The job has already ended; it cannot be cancelled.",
    "job.file": "Training file", "job.time": "Time", "job.level": "Level", "job.message": "Message",
    "job.started": "Started", "job.finished": "Finished", "job.tokens": "Trained tokens",
    "new.title": "Create a fine-tuned model", "new.file": "Training data (JSONL)",
    "new.file_help": "One chat per line: {\"messages\": [user, assistant]}. It is checked completely before a job "
                     "is created.",
    "new.or_existing": "or an uploaded file", "new.none": "(upload a new file)",
    "new.base": "Base model", "new.name": "Fine-tuned model name",
    "new.name_help": "Becomes fm-mlx-<name>. Empty: fm-mlx-<base model>-<job id>.",
    "new.default": "default {value}", "new.submit": "Start fine-tuning",
    "new.need_file": "Choose a JSONL file to upload, or an uploaded file.",
    "new.same_name": "A model named {name} already exists. The new one replaces it when this job succeeds "
                     "(until then the old one keeps working).",
    "new.same_name_confirm": "Replace {name} when the job succeeds",
    "new.uploaded": "{file} was uploaded ({examples} examples) and is selected below.",
    "new.error": "Nothing was started:",
    "new.extra": "Other parameters (JSON)",
    "new.extra_help": "The Local engine's extras, e.g. {\"rank\": 8, \"steps_per_report\": 5} (docs/local-engine.md).",
    "new.extra_bad": "Other parameters must be a JSON object, such as {\"rank\": 8}.",
    "models.title": "Models", "models.name": "Name", "models.kind": "Kind", "models.size": "Size",
    "models.base": "Base model", "models.created": "Created", "models.job": "Made by job",
    "models.kind.base": "base", "models.kind.tuned": "fine-tuned", "models.kind.builtin": "built-in (built on first use)",
    "models.delete": "Delete", "models.delete_q": "Delete the fine-tuned model {name}?",
    "models.delete_help": "Its adapter files are removed; scripts that use it will get an error.",
    "models.delete_yes": "Yes, delete it", "models.delete_no": "No, keep it",
    "models.deleted": "{name} was deleted.", "models.in_use": "{name} is in use by the {status} job {job}; cancel "
                                                            "it or wait for it to end first.",
    "models.not_deletable": "{name} is a base model; remove base models with `fmscript models remove`.",
    "models.not_found": "There is no model {name}.",
    "models.try": "Try a model", "models.prompt": "Prompt", "models.ask": "Ask", "models.answer": "Answer",
    "models.none": "No models yet.",
    "server.title": "Server", "server.health": "Health", "server.version": "Version", "server.worker": "Worker",
    "server.worker.running": "running (pid {pid})", "server.worker.idle": "not running (starts when a job waits)",
    "server.queue": "Queue", "server.queue_text": "{queued} queued, {running} running",
    "server.memory": "Memory", "server.memory_text": "{available} available of {total}; this server uses {rss}",
    "server.worker_memory": "worker uses {rss}", "server.blas": "BLAS", "server.device": "Device",
    "server.home": "Home", "server.keys": "API keys",
    "server.keys_help": "Named keys work for the API (Authorization: Bearer …) and for this console, like "
                        "FMSCRIPT_API_KEY, which keeps working. A key is shown once; only its hash is stored.",
    "server.keys_off": "This server runs without FMSCRIPT_API_KEY, so it checks no key: start it with one to use "
                       "named keys.",
    "server.key_name": "Name", "server.key_prefix": "Starts with", "server.key_created": "Created",
    "server.key_state": "State", "server.key_active": "active", "server.key_revoked": "revoked {when}",
    "server.key_create": "Create key", "server.key_revoke": "Revoke",
    "server.key_new": "The key {name} was created. Copy it now: it is not shown again.",
    "server.key_revoked_msg": "The key {name} was revoked.", "server.key_need_name": "Give the key a name.",
    "server.env_key": "FMSCRIPT_API_KEY (from the environment)",
    "server.calls": "Recent AI calls",
    "server.calls_off": "AI call logging is off (Set AI Call Logging turns it on; its log file is shown here).",
    "server.calls_file": "From {path}",
    "common.back": "Back", "common.none": "—", "common.error": "Error",
}

ZH = {
    "title": "fmscript 管理控制台",
    "nav.jobs": "作业", "nav.new": "新建微调", "nav.models": "模型", "nav.server": "服务器",
    "nav.logout": "退出登录", "nav.language": "语言", "nav.switch": "切换",
    "login.title": "登录", "login.key": "API 密钥", "login.submit": "登录",
    "login.help": "输入服务器的 FMSCRIPT_API_KEY,或在“服务器”页面创建的命名密钥。",
    "login.wrong": "该密钥在此服务器上无效。",
    "login.open": "此服务器未设置 API 密钥:能访问它的任何人都可以使用它。",
    "csrf.bad": "表单已过期,请重试。",
    "jobs.title": "微调作业", "jobs.none": "还没有作业。",
    "jobs.id": "作业", "jobs.status": "状态", "jobs.model": "基础模型", "jobs.tuned": "微调模型",
    "jobs.progress": "步数", "jobs.loss": "损失", "jobs.tps": "令牌/秒", "jobs.eta": "预计剩余",
    "jobs.created": "创建时间", "jobs.reason": "原因", "jobs.live": "作业运行时实时更新。",
    "status.queued": "排队中", "status.running": "运行中", "status.succeeded": "已成功",
    "status.failed": "已失败", "status.cancelled": "已取消",
    "job.title": "作业 {id}", "job.params": "参数", "job.events": "事件", "job.checkpoints": "检查点",
    "job.no_checkpoints": "磁盘上没有检查点(作业结束时会删除检查点)。",
    "job.chart": "损失", "job.train_loss": "训练损失", "job.val_loss": "验证损失",
    "job.no_metrics": "尚未报告损失。", "job.cancel": "取消作业", "job.cancelled": "作业已取消。",
    "job.not_found": "没有作业 {id}。", "job.cannot_cancel": "作业已经结束,无法取消。",
    "job.file": "训练文件", "job.time": "时间", "job.level": "级别", "job.message": "消息",
    "job.started": "开始时间", "job.finished": "结束时间", "job.tokens": "已训练令牌数",
    "new.title": "创建微调模型", "new.file": "训练数据(JSONL)",
    "new.file_help": "每行一段对话:{\"messages\": [用户, 助手]}。创建作业之前会完整检查。",
    "new.or_existing": "或已上传的文件", "new.none": "(上传新文件)",
    "new.base": "基础模型", "new.name": "微调模型名称",
    "new.name_help": "将成为 fm-mlx-<名称>。留空:fm-mlx-<基础模型>-<作业编号>。",
    "new.default": "默认 {value}", "new.submit": "开始微调",
    "new.need_file": "请选择要上传的 JSONL 文件,或已上传的文件。",
    "new.same_name": "已存在名为 {name} 的模型。此作业成功后新模型将替换它(在此之前旧模型仍可使用)。",
    "new.same_name_confirm": "作业成功后替换 {name}",
    "new.uploaded": "{file} 已上传({examples} 个示例),已在下方选中。",
    "new.error": "未启动任何作业:",
    "new.extra": "其他参数(JSON)",
    "new.extra_help": "本地引擎的额外参数,例如 {\"rank\": 8, \"steps_per_report\": 5}(见 docs/local-engine.md)。",
    "new.extra_bad": "其他参数必须是 JSON 对象,例如 {\"rank\": 8}。",
    "models.title": "模型", "models.name": "名称", "models.kind": "类型", "models.size": "大小",
    "models.base": "基础模型", "models.created": "创建时间", "models.job": "生成它的作业",
    "models.kind.base": "基础", "models.kind.tuned": "微调", "models.kind.builtin": "内置(首次使用时构建)",
    "models.delete": "删除", "models.delete_q": "删除微调模型 {name}?",
    "models.delete_help": "其适配器文件将被删除;使用它的脚本将出错。",
    "models.delete_yes": "是,删除", "models.delete_no": "不,保留",
    "models.deleted": "{name} 已删除。", "models.in_use": "{name} 正被{status}的作业 {job} 使用;请先取消该作业或等待它结束。",
    "models.not_deletable": "{name} 是基础模型;请用 `fmscript models remove` 删除基础模型。",
    "models.not_found": "没有模型 {name}。",
    "models.try": "试用模型", "models.prompt": "提示", "models.ask": "提问", "models.answer": "回答",
    "models.none": "还没有模型。",
    "server.title": "服务器", "server.health": "运行状况", "server.version": "版本", "server.worker": "工作进程",
    "server.worker.running": "运行中(pid {pid})", "server.worker.idle": "未运行(有作业等待时启动)",
    "server.queue": "队列", "server.queue_text": "{queued} 个排队,{running} 个运行中",
    "server.memory": "内存", "server.memory_text": "可用 {available},共 {total};此服务器占用 {rss}",
    "server.worker_memory": "工作进程占用 {rss}", "server.blas": "BLAS", "server.device": "设备",
    "server.home": "主目录", "server.keys": "API 密钥",
    "server.keys_help": "命名密钥可用于 API(Authorization: Bearer …)和此控制台,与 FMSCRIPT_API_KEY 相同,"
                        "后者继续有效。密钥只显示一次;只保存其哈希值。",
    "server.keys_off": "此服务器未设置 FMSCRIPT_API_KEY,因此不检查任何密钥:设置密钥后启动才能使用命名密钥。",
    "server.key_name": "名称", "server.key_prefix": "开头", "server.key_created": "创建时间",
    "server.key_state": "状态", "server.key_active": "有效", "server.key_revoked": "已于 {when} 吊销",
    "server.key_create": "创建密钥", "server.key_revoke": "吊销",
    "server.key_new": "密钥 {name} 已创建。请立即复制:它不会再次显示。",
    "server.key_revoked_msg": "密钥 {name} 已吊销。", "server.key_need_name": "请为密钥命名。",
    "server.env_key": "FMSCRIPT_API_KEY(来自环境变量)",
    "server.calls": "最近的 AI 调用",
    "server.calls_off": "AI 调用日志记录已关闭(“设置 AI 调用日志记录”可打开它;其日志文件会显示在这里)。",
    "server.calls_file": "来自 {path}",
    "common.back": "返回", "common.none": "—", "common.error": "错误",
}

TABLES = {"en": EN, "zh-Hans": ZH}


def pick(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language, else zh-Hans for a browser that asks for Chinese first, else English."""
    if cookie in TABLES:
        return cookie
    first = (accept_language or "").split(",")[0].strip().lower()
    return "zh-Hans" if first.startswith("zh") else DEFAULT


def translator(lang: str):
    table = TABLES.get(lang, EN)

    def t(key: str, **fields) -> str:
        text = table.get(key) or EN.get(key) or key
        return text.format(**fields) if fields else text

    return t
