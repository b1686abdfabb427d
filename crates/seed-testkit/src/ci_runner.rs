//! A fake CI runner: runs a composite GitHub Action's steps, or a GitLab CI/CD component's job,
//! the way the real runners do, so the actions and components in this repository are tested
//! end to end here (there is no `act`, Docker or GitHub here; docs/decisions.md, D-053).
//!
//! It is a test double of the runner, and deliberately strict where the real one is lenient:
//! - GitHub: inputs are mapped from `with:` (unknown ones are an error, missing required ones
//!   too), each step's `env:` is evaluated (`${{ inputs.* }}`, `${{ steps.*.outputs.* }}`,
//!   `${{ github.action_path }}`), and `run:` is refused if it holds any `${{ }}` at all (the
//!   template-injection rule the actions follow). Each step gets fresh `GITHUB_OUTPUT`,
//!   `GITHUB_ENV` and `GITHUB_PATH` files, which are parsed as the runner parses them (including
//!   `name<<DELIMITER` blocks) and carried into later steps; `GITHUB_STEP_SUMMARY` is collected.
//!   A step runs as `bash --noprofile --norc -eo pipefail FILE`, GitHub's `shell: bash`.
//! - GitLab: the `spec:` header's inputs are checked (`options`, `regex`, `type: boolean`) and
//!   defaulted, `$[[ inputs.* ]]` and `$[[ component.* ]]` are interpolated outside `script:`
//!   only (a script holding one is refused), `variables:` are expanded against the CI
//!   variables (which take precedence over the YAML's, as project variables do), the script
//!   lines run in one bash with `set -eo pipefail`, as the shell executor does, and the
//!   dotenv report is parsed. A pipeline's job is composed from its components' jobs, its own
//!   keys and `extends:`.
//!
//! The environment is cleared: only `PATH`, `HOME` and what the caller passes reach the steps.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

/// What a run left: per-step logs, the outputs, the summary and whether it succeeded.
#[derive(Debug, Default)]
pub struct Run {
    /// The exit code of the last step that ran (0 when all succeeded).
    pub exit_code: i32,
    /// GitHub: the action's outputs (its `outputs:` evaluated). GitLab: the dotenv report.
    pub outputs: BTreeMap<String, String>,
    /// GitHub: everything the steps appended to `GITHUB_STEP_SUMMARY`.
    pub summary: String,
    /// Directories the steps added to `GITHUB_PATH`, in order.
    pub path_added: Vec<String>,
    /// Each step's stdout and stderr, for assertion messages.
    pub log: String,
}

impl Run {
    /// The output `name`, or an empty string (as an unset output reads in a workflow).
    pub fn output(&self, name: &str) -> &str {
        self.outputs.get(name).map_or("", String::as_str)
    }
}

/// Expression contexts by dotted name: `inputs.image`, `steps.seed.outputs.image`,
/// `secrets.KEY`, `github.actor`, `matrix.os`, `env.REGISTRY`.
type Contexts = BTreeMap<String, String>;

/// What carries from step to step of one job: the run so far, the variables steps exported
/// through `GITHUB_ENV`, and a step counter for the runner's file names.
#[derive(Default)]
struct Job {
    run: Run,
    exported: BTreeMap<String, String>,
    steps: usize,
}

/// A runner with a workspace (the job's checkout) and a temporary directory.
pub struct Runner {
    workspace: PathBuf,
    temp: tempfile::TempDir,
    path: String,
}

impl Runner {
    /// A runner whose job checkout is `workspace`; `path_first` is put before the inherited
    /// `PATH` (where the job's tools are).
    pub fn new(workspace: &Path, path_first: &[&Path]) -> Self {
        let mut path: Vec<String> = path_first.iter().map(|p| p.display().to_string()).collect();
        path.push(std::env::var("PATH").unwrap_or_default());
        Self {
            workspace: workspace.to_path_buf(),
            temp: tempfile::tempdir().expect("runner temp dir"),
            path: path.join(":"),
        }
    }

    /// Runs the composite action in `action_dir` with the `with:` inputs and the job's `env`
    /// (secrets and variables of the workflow).
    pub fn github_action(
        &self,
        action_dir: &Path,
        with: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> Result<Run, String> {
        let mut job = Job::default();
        let outputs = self.run_action(
            &mut job,
            action_dir,
            &pairs_to_map(&pairs(with))?,
            &pairs_to_map(&pairs(env))?,
        )?;
        job.run.outputs = outputs;
        Ok(job.run)
    }

    /// Runs job `job` of the workflow file `workflow` with `contexts` (`secrets.NAME`,
    /// `github.actor`, `matrix.os`, ... as dotted names; `env.NAME` overrides the workflow's
    /// variable). A step's `uses:` is looked up with
    /// `actions`: a directory runs that composite action, `None` skips the step as one the
    /// test environment already provides (a checkout, an installed Nix). The job's own `if:` is
    /// not evaluated: the caller decides which job runs.
    pub fn github_workflow_job(
        &self,
        workflow: &Path,
        job_name: &str,
        contexts: &[(&str, &str)],
        actions: impl Fn(&str) -> Option<PathBuf>,
    ) -> Result<Run, String> {
        let workflow = read_yaml(workflow)?;
        let definition = &workflow["jobs"][job_name];
        let steps = definition["steps"]
            .as_array()
            .ok_or(format!("job {job_name} has no steps"))?;
        let given: Contexts = pairs_to_map(&pairs(contexts))?;
        let mut contexts = given.clone();
        let mut env = BTreeMap::new();
        for level in [&workflow["env"], &definition["env"]] {
            for (name, value) in evaluate_map(level, &contexts)? {
                contexts.insert(format!("env.{name}"), value.clone());
                env.insert(name, value);
            }
        }
        // A given `env.NAME` stands for a repository variable overriding the workflow's value
        // (a test's registry instead of ghcr.io).
        for (name, value) in &given {
            if let Some(variable) = name.strip_prefix("env.") {
                contexts.insert(name.clone(), value.clone());
                env.insert(variable.to_owned(), value.clone());
            }
        }
        let mut job = Job::default();
        for (index, step) in steps.iter().enumerate() {
            if step.get("if").is_some() {
                return Err(format!(
                    "step {index}: `if:` is not evaluated by the fake runner"
                ));
            }
            let mut step_env = env.clone();
            step_env.extend(evaluate_map(&step["env"], &contexts)?);
            let outputs = if let Some(uses) = step["uses"].as_str() {
                let Some(dir) = actions(uses) else {
                    job.run
                        .log
                        .push_str(&format!("--- step {index}: {uses} (provided)\n"));
                    continue;
                };
                let with = evaluate_map(&step["with"], &contexts)?;
                self.run_action(&mut job, &dir, &with, &step_env)?
            } else {
                let script = step["run"]
                    .as_str()
                    .ok_or(format!("step {index}: neither uses nor run"))?;
                if step["shell"].as_str().is_some_and(|shell| shell != "bash") {
                    return Err(format!("step {index}: only bash steps are run"));
                }
                self.run_step(&mut job, script, &step_env, None)?
            };
            if job.run.exit_code != 0 {
                break;
            }
            if let Some(id) = step["id"].as_str() {
                for (name, value) in outputs {
                    contexts.insert(format!("steps.{id}.outputs.{name}"), value);
                }
            }
        }
        Ok(job.run)
    }

    /// Runs a composite action's steps within `job`; returns its outputs (none if a step
    /// failed, which `job.run.exit_code` says).
    fn run_action(
        &self,
        job: &mut Job,
        action_dir: &Path,
        with: &BTreeMap<String, String>,
        env: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, String> {
        let action = read_yaml(&action_dir.join("action.yml"))?;
        if action["runs"]["using"] != "composite" {
            return Err("only composite actions are run".into());
        }
        let mut contexts: Contexts = github_inputs(&action, with)?
            .into_iter()
            .map(|(name, value)| (format!("inputs.{name}"), value))
            .collect();
        contexts.insert(
            "github.action_path".into(),
            action_dir.display().to_string(),
        );
        let steps = action["runs"]["steps"]
            .as_array()
            .ok_or("runs.steps is missing")?;
        for (index, step) in steps.iter().enumerate() {
            let script = step["run"]
                .as_str()
                .ok_or(format!("step {index}: only `run:` steps are run"))?;
            if step.get("if").is_some() || step["shell"] != "bash" {
                return Err(format!("step {index}: needs `shell: bash` and no `if:`"));
            }
            let mut step_env = env.clone();
            step_env.extend(evaluate_map(&step["env"], &contexts)?);
            let outputs = self.run_step(job, script, &step_env, Some(action_dir))?;
            if job.run.exit_code != 0 {
                return Ok(BTreeMap::new());
            }
            if let Some(id) = step["id"].as_str() {
                for (name, value) in outputs {
                    contexts.insert(format!("steps.{id}.outputs.{name}"), value);
                }
            }
        }
        let mut outputs = BTreeMap::new();
        for (name, output) in action["outputs"].as_object().into_iter().flatten() {
            let value = output["value"].as_str().unwrap_or_default();
            outputs.insert(name.clone(), interpolate(value, &contexts)?);
        }
        Ok(outputs)
    }

    /// Runs one `run:` step as `shell: bash` does, with fresh runner files; records its log,
    /// summary, PATH and ENV additions in `job` and returns its outputs.
    fn run_step(
        &self,
        job: &mut Job,
        script: &str,
        env: &BTreeMap<String, String>,
        action_dir: Option<&Path>,
    ) -> Result<BTreeMap<String, String>, String> {
        if script.contains("${{") {
            return Err(format!(
                "a `run:` interpolates an expression; pass it through `env:`: {script}"
            ));
        }
        let index = job.steps;
        job.steps += 1;
        let files = StepFiles::new(self.temp.path(), index)?;
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(write_script(self.temp.path(), index, script)?)
            .current_dir(&self.workspace)
            .env_clear()
            .env("PATH", self.path_with(&job.run.path_added))
            .env("HOME", self.temp.path())
            .envs([
                ("CI", "true"),
                ("GITHUB_ACTIONS", "true"),
                ("RUNNER_OS", "Linux"),
                ("RUNNER_ARCH", "X64"),
            ])
            .env("RUNNER_TEMP", self.temp.path())
            .env("GITHUB_WORKSPACE", &self.workspace)
            .envs(files.env())
            .envs(&job.exported)
            .envs(env);
        if let Some(dir) = action_dir {
            command.env("GITHUB_ACTION_PATH", dir);
        }
        let out = command.output().map_err(|e| format!("bash: {e}"))?;
        job.run.log.push_str(&format!(
            "--- step {index} exit {:?}\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
        job.run.summary.push_str(&files.read(&files.summary)?);
        job.run
            .path_added
            .extend(files.read(&files.path)?.lines().map(str::to_owned));
        job.exported
            .extend(parse_file_command(&files.read(&files.env)?)?);
        job.run.exit_code = out.status.code().unwrap_or(-1);
        parse_file_command(&files.read(&files.output)?)
    }

    /// Runs the job of the GitLab component `template` with `inputs`, `component_sha` as
    /// `$[[ component.sha ]]` and `ci_variables` as the pipeline's predefined and project
    /// variables.
    pub fn gitlab_component(
        &self,
        template: &Path,
        inputs: &[(&str, &str)],
        component_sha: &str,
        ci_variables: &[(&str, &str)],
    ) -> Result<Run, String> {
        let inputs = pairs_to_map(&pairs(inputs))?;
        let (_, job) = component_job(template, &inputs, component_sha)?;
        self.run_gitlab_job(&job, &pairs_to_map(&pairs(ci_variables))?)
    }

    /// Runs job `job_name` of the pipeline file `pipeline` as GitLab composes it: jobs of the
    /// included components (`components` maps an include's `component:` to its template file,
    /// its commit and inputs this GitLab instance sets, such as a mirror's `source`) with the pipeline's own keys for that job merged over them, `extends:`
    /// resolved, pipeline `variables:` under the job's. Rules, stages and needs are the
    /// caller's to follow: the job runs as asked.
    pub fn gitlab_pipeline_job(
        &self,
        pipeline: &Path,
        job_name: &str,
        components: impl Fn(&str) -> Option<(PathBuf, String, Vec<(String, String)>)>,
        ci_variables: &[(&str, &str)],
    ) -> Result<Run, String> {
        let pipeline = read_yaml(pipeline)?;
        let mut jobs = serde_json::Map::new();
        for include in pipeline["include"].as_array().into_iter().flatten() {
            let Some(reference) = include["component"].as_str() else {
                return Err("only component includes are followed".into());
            };
            let (template, sha, instance_inputs) =
                components(reference).ok_or(format!("unknown component {reference}"))?;
            let mut inputs: BTreeMap<String, String> = include["inputs"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, value)| {
                    let value = value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned);
                    (name.clone(), value)
                })
                .collect();
            inputs.extend(instance_inputs);
            let (name, job) = component_job(&template, &inputs, &sha)?;
            jobs.insert(name, job);
        }
        let mut job = jobs
            .remove(job_name)
            .unwrap_or(Value::Object(Default::default()));
        merge(&mut job, &pipeline[job_name]);
        if let Some(base) = job["extends"].as_str().map(str::to_owned) {
            let mut extended = pipeline[base.as_str()].clone();
            merge(&mut extended, &job);
            job = extended;
        }
        if job["script"].is_null() {
            return Err(format!("no job {job_name} in the pipeline"));
        }
        let mut variables = job["variables"].clone();
        job["variables"] = pipeline["variables"].clone();
        merge(&mut job["variables"], &variables.take());
        self.run_gitlab_job(&job, &pairs_to_map(&pairs(ci_variables))?)
    }

    /// Runs a GitLab job's `script:` in one bash with `set -eo pipefail`, its variables
    /// expanded against the CI variables, and reads its dotenv report.
    fn run_gitlab_job(&self, job: &Value, ci: &BTreeMap<String, String>) -> Result<Run, String> {
        let mut script = String::from("set -eo pipefail\n");
        for line in job["script"].as_array().ok_or("script is missing")? {
            script.push_str(line.as_str().ok_or("a script line is not a string")?);
            script.push('\n');
        }
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc"])
            .arg(write_script(self.temp.path(), 0, &script)?)
            .current_dir(&self.workspace)
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", self.temp.path())
            .envs([("CI", "true"), ("GITLAB_CI", "true")])
            .env("CI_PROJECT_DIR", &self.workspace);
        for (name, value) in job["variables"].as_object().into_iter().flatten() {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            command.env(name, expand_variables(&value, ci));
        }
        // Project and pipeline variables take precedence over the YAML's, as on GitLab.
        command.envs(ci);
        let out = command.output().map_err(|e| format!("bash: {e}"))?;
        let mut run = Run {
            exit_code: out.status.code().unwrap_or(-1),
            log: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            ..Run::default()
        };
        if let Some(dotenv) = job["artifacts"]["reports"]["dotenv"].as_str() {
            let path = self.workspace.join(dotenv);
            if path.exists() {
                let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
                run.outputs = parse_file_command(&text)?;
            }
        }
        Ok(run)
    }

    fn path_with(&self, added: &[String]) -> String {
        // GITHUB_PATH entries go first, the newest before the older.
        added
            .iter()
            .rev()
            .cloned()
            .chain([self.path.clone()])
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// The runner's per-step command files.
struct StepFiles {
    output: PathBuf,
    env: PathBuf,
    path: PathBuf,
    summary: PathBuf,
}

impl StepFiles {
    fn new(temp: &Path, index: usize) -> Result<Self, String> {
        let file = |name: &str| -> Result<PathBuf, String> {
            let path = temp.join(format!("{name}_{index}"));
            std::fs::write(&path, "").map_err(|e| e.to_string())?;
            Ok(path)
        };
        Ok(Self {
            output: file("output")?,
            env: file("env")?,
            path: file("path")?,
            summary: file("step_summary")?,
        })
    }

    fn env(&self) -> [(&str, &Path); 4] {
        [
            ("GITHUB_OUTPUT", &self.output),
            ("GITHUB_ENV", &self.env),
            ("GITHUB_PATH", &self.path),
            ("GITHUB_STEP_SUMMARY", &self.summary),
        ]
    }

    fn read(&self, path: &Path) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }
}

fn read_yaml(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn write_script(temp: &Path, index: usize, script: &str) -> Result<PathBuf, String> {
    let path = temp.join(format!("step_{index}.sh"));
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    Ok(path)
}

/// Each declared input's value: `with:`, else its default; unknown or missing required
/// inputs are errors.
fn github_inputs(
    action: &Value,
    with: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let declared = action["inputs"]
        .as_object()
        .ok_or("the action has no inputs")?;
    if let Some(unknown) = with.keys().find(|name| !declared.contains_key(*name)) {
        return Err(format!("unexpected input '{unknown}'"));
    }
    let mut values = BTreeMap::new();
    for (name, spec) in declared {
        let value = match (with.get(name), spec["default"].as_str()) {
            (Some(value), _) => value.clone(),
            (None, Some(default)) => default.to_owned(),
            (None, None) if spec["required"] == true => {
                return Err(format!("input required and not supplied: {name}"))
            }
            (None, None) => String::new(),
        };
        values.insert(name.clone(), value);
    }
    Ok(values)
}

/// Replaces each `${{ name }}` in `text` with the context value of that dotted name; any other
/// expression is an error (the fake runner evaluates names, not GitHub's expression language).
fn interpolate(text: &str, contexts: &Contexts) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let end = rest[start..]
            .find("}}")
            .ok_or(format!("unclosed expression in '{text}'"))?;
        let name = rest[start + 3..start + end].trim();
        let value = match contexts.get(name) {
            Some(value) => value.as_str(),
            // An output a step did not set reads as empty, as on GitHub.
            None if name.starts_with("steps.") => "",
            None => return Err(format!("the fake runner has no value for '{name}'")),
        };
        out.push_str(&rest[..start]);
        out.push_str(value);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A YAML map of `env:` or `with:`, each value interpolated.
fn evaluate_map(map: &Value, contexts: &Contexts) -> Result<BTreeMap<String, String>, String> {
    let mut values = BTreeMap::new();
    for (name, value) in map.as_object().into_iter().flatten() {
        let value = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_owned);
        values.insert(name.clone(), interpolate(&value, contexts)?);
    }
    Ok(values)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn pairs_to_map(list: &[(String, String)]) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for (name, value) in list {
        if map.insert(name.clone(), value.clone()).is_some() {
            return Err(format!("'{name}' is given twice"));
        }
    }
    Ok(map)
}

/// Parses the runner's file-command format: `name=value` lines and `name<<DELIMITER` blocks.
pub fn parse_file_command(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut values = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            loop {
                match lines.next() {
                    Some(l) if l == delimiter => break,
                    Some(l) => value.push(l),
                    None => return Err(format!("'{name}': no closing delimiter {delimiter}")),
                }
            }
            values.insert(name.to_owned(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            values.insert(name.to_owned(), value.to_owned());
        } else {
            return Err(format!("not a file command line: '{line}'"));
        }
    }
    Ok(values)
}

/// The one job of the component `template` with `inputs` and `$[[ component.sha ]]`
/// interpolated; returns its name and definition.
fn component_job(
    template: &Path,
    inputs: &BTreeMap<String, String>,
    sha: &str,
) -> Result<(String, Value), String> {
    let text = std::fs::read_to_string(template).map_err(|e| e.to_string())?;
    let documents: Vec<Value> = serde_norway::Deserializer::from_str(&text)
        .map(|document| serde::Deserialize::deserialize(document).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let [header, jobs] = documents.as_slice() else {
        return Err("a component is a spec header and one document of jobs".into());
    };
    let inputs = gitlab_inputs(&header["spec"], inputs)?;
    let jobs = jobs.as_object().ok_or("jobs document is not a map")?;
    let [(name, job)] = <[_; 1]>::try_from(jobs.iter().collect::<Vec<_>>())
        .map_err(|_| "the component defines exactly one job")?;
    for line in job["script"].as_array().ok_or("script is missing")? {
        if line.as_str().unwrap_or_default().contains("$[[") {
            return Err("a script line interpolates an input; pass it through variables".into());
        }
    }
    let mut job = job.clone();
    let component = BTreeMap::from([("sha".to_owned(), sha.to_owned())]);
    interpolate_gitlab(&mut job, &inputs, &component)?;
    Ok((name.clone(), job))
}

/// GitLab's deep merge of job definitions: maps merge key by key, anything else is replaced.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                merge(base.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (base, over) if !over.is_null() => *base = over.clone(),
        _ => {}
    }
}

/// The spec's inputs with `given` applied: unknown inputs, values outside `options`, values
/// not matching `regex` and non-boolean booleans are errors, as GitLab's are.
fn gitlab_inputs(
    spec: &Value,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let declared = spec["inputs"].as_object().ok_or("spec.inputs is missing")?;
    if let Some(unknown) = given.keys().find(|name| !declared.contains_key(*name)) {
        return Err(format!("unknown input name provided: `{unknown}`"));
    }
    let mut values = BTreeMap::new();
    for (name, input) in declared {
        let value = match (given.get(name), input.get("default")) {
            (Some(value), _) => value.clone(),
            (None, Some(Value::String(default))) => default.clone(),
            (None, Some(default)) => default.to_string(),
            (None, None) => {
                return Err(format!(
                    "`{name}` input: required value has not been provided"
                ))
            }
        };
        if let Some(options) = input["options"].as_array() {
            if !options.iter().any(|o| o.as_str() == Some(&value)) {
                return Err(format!("`{name}` input: `{value}` cannot be used because it is not in the list of allowed options"));
            }
        }
        if let Some(pattern) = input["regex"].as_str() {
            let regex = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
            if !regex.is_match(&value) {
                return Err(format!(
                    "`{name}` input: provided value does not match required RegEx pattern"
                ));
            }
        }
        if input["type"] == "boolean" && !matches!(value.as_str(), "true" | "false") {
            return Err(format!("`{name}` input: provided value is not a boolean"));
        }
        values.insert(name.clone(), value);
    }
    Ok(values)
}

/// Interpolates `$[[ inputs.x ]]` and `$[[ component.x ]]` in every string of `value`.
fn interpolate_gitlab(
    value: &mut Value,
    inputs: &BTreeMap<String, String>,
    component: &BTreeMap<String, String>,
) -> Result<(), String> {
    match value {
        Value::String(text) => {
            let mut out = String::new();
            let mut rest = text.as_str();
            while let Some(start) = rest.find("$[[") {
                let end = rest[start..].find("]]").ok_or("unclosed $[[")?;
                let expression = rest[start + 3..start + end].trim();
                let resolved = match expression.split_once('.') {
                    Some(("inputs", name)) => inputs.get(name),
                    Some(("component", name)) => component.get(name),
                    _ => None,
                }
                .ok_or(format!("unknown interpolation $[[ {expression} ]]"))?;
                out.push_str(&rest[..start]);
                out.push_str(resolved);
                rest = &rest[start + end + 2..];
            }
            out.push_str(rest);
            *text = out;
        }
        Value::Array(items) => {
            for item in items {
                interpolate_gitlab(item, inputs, component)?;
            }
        }
        Value::Object(fields) => {
            for field in fields.values_mut() {
                interpolate_gitlab(field, inputs, component)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Expands `$NAME` and `${NAME}` from the CI variables, as GitLab expands job variables.
fn expand_variables(value: &str, ci: &BTreeMap<String, String>) -> String {
    let pattern = regex::Regex::new(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?").expect("valid pattern");
    pattern
        .replace_all(value, |captures: &regex::Captures<'_>| {
            ci.get(&captures[1]).cloned().unwrap_or_default()
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn file_commands_parse_as_the_runner_parses_them() {
        let parsed = parse_file_command("a=1\n\nb<<EOF\nline 1\nline 2\nEOF\nc=x=y\n").unwrap();
        assert_eq!(parsed["a"], "1");
        assert_eq!(parsed["b"], "line 1\nline 2");
        assert_eq!(parsed["c"], "x=y");
        assert!(parse_file_command("b<<EOF\nno end\n").is_err());
        assert!(parse_file_command("no equals sign\n").is_err());
    }

    #[test]
    fn expressions_are_interpolated_and_unknown_ones_refused() {
        let contexts = BTreeMap::from([("inputs.image".to_owned(), "r/s@sha256:ab".to_owned())]);
        assert_eq!(
            interpolate("x ${{ inputs.image }} y", &contexts).unwrap(),
            "x r/s@sha256:ab y"
        );
        assert!(interpolate("${{ inputs.nope }}", &contexts).is_err());
        assert!(interpolate("${{ secrets.KEY }}", &contexts).is_err());
        assert!(interpolate("${{ inputs.image", &contexts).is_err());
    }

    #[test]
    fn inputs_are_defaulted_and_checked_as_the_runner_does() {
        let action: Value = serde_norway::from_str(
            "inputs:\n  needed: {required: true}\n  mode: {default: auto}\n  extra: {}\n",
        )
        .unwrap();
        let with = |pairs: &[(&str, &str)]| pairs_to_map(&super::pairs(pairs)).unwrap();
        let values = github_inputs(&action, &with(&[("needed", "x")])).unwrap();
        assert_eq!(values["needed"], "x");
        assert_eq!(values["mode"], "auto");
        assert_eq!(values["extra"], "");
        assert!(github_inputs(&action, &with(&[]))
            .unwrap_err()
            .contains("input required and not supplied: needed"));
        assert!(
            github_inputs(&action, &with(&[("needed", "x"), ("other", "y")]))
                .unwrap_err()
                .contains("unexpected input 'other'")
        );
        assert!(pairs_to_map(&super::pairs(&[("a", "1"), ("a", "2")])).is_err());
    }

    #[test]
    fn variables_expand_from_the_ci_variables() {
        let ci = BTreeMap::from([("CI_COMMIT_SHA".to_owned(), "abc".to_owned())]);
        assert_eq!(
            expand_variables("$CI_COMMIT_SHA-${CI_COMMIT_SHA}", &ci),
            "abc-abc"
        );
        assert_eq!(expand_variables("$UNSET", &ci), "");
    }
}
