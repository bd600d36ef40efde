//===- Options.td - The options of sorac, sorac run and sorac eval --------===//
//
// Each option is declared once, here; llvm-tblgen -gen-opt-parser-defs
// turns the table into Options.inc for llvm::opt::OptTable (as clang's
// Options.td). A visibility says which command takes the option:
// DefaultVis `sorac FILE`, RunVis `sorac run`, EvalVis `sorac eval`,
// ImportVis `sorac import`. The
// groups are the sections of --help, which prints them in the order of
// their titles.
//
//===----------------------------------------------------------------------===//

include "llvm/Option/OptParser.td"

def RunVis : OptionVisibility;
def EvalVis : OptionVisibility;
def ImportVis : OptionVisibility;

// The sections of --help.
def grp_codegen : OptionGroup<"codegen">, HelpText<"CODE GENERATION OPTIONS">;
def grp_input : OptionGroup<"input">, HelpText<"INPUT OPTIONS">;
def grp_output : OptionGroup<"output">, HelpText<"OUTPUT OPTIONS">;
def grp_passes : OptionGroup<"passes">, HelpText<"GRAPH PASS OPTIONS">;
def grp_runtime : OptionGroup<"runtime">, HelpText<"RUNTIME OPTIONS">;

// An option with a value, `--NAME VALUE` or `--NAME=VALUE`: the second is
// an alias of the first, so the code sees one option. --help shows the
// form `eq` asks for.
// `variants`: the help of other commands, on the form shown.
multiclass Valued<list<string> prefixes, string name, string meta,
                  string help, bit eq = false,
                  list<HelpTextVariant> variants = []> {
  def NAME : Separate<prefixes, name>, MetaVarName<meta>,
             HelpText<!if(eq, "", help)> {
    let HelpTextsForVariants = !if(eq, []<HelpTextVariant>, variants);
  }
  def NAME#_EQ : Joined<prefixes, name#"=">, Alias<!cast<Option>(NAME)>,
                 MetaVarName<meta>, HelpText<!if(eq, help, "")> {
    let HelpTextsForVariants = !if(eq, variants, []<HelpTextVariant>);
  }
}

//===--- Every command ----------------------------------------------------===//

let Visibility = [DefaultVis, RunVis, EvalVis, ImportVis] in {
def help : Flag<["--"], "help">, HelpText<"this text (also -h)">;
def h : Flag<["-"], "h">, Alias<help>;
def version : Flag<["--"], "version">,
              HelpText<"the version of sorac and of its LLVM">;
}
defm model : Valued<["--"], "model", "NAME",
                    "the model to compile when the file has several", false,
                    [HelpTextVariant<[RunVis, EvalVis], "the model to use "
                                     "when the file has several">]>,
             Visibility<[DefaultVis, RunVis, EvalVis]>, Group<grp_input>;

//===--- sorac FILE.sora --------------------------------------------------===//

let Group = grp_output in {
defm o : Valued<["-"], "o", "PATH",
                "output file (default: <model>.o); the header is\n"
                "written beside an object, with the extension .h", false,
                [HelpTextVariant<[ImportVis], "the .sora file to write (default: "
                                 "FILE's stem,\n.sora); the weights go beside "
                                 "it, OUT.safetensors">]>,
         Visibility<[DefaultVis, ImportVis]>;
defm emit : Valued<["--"], "emit", "KIND",
                   "ast | ir | ir-eval | ir-train | dot | dot-train |\n"
                   "mermaid | mermaid-train | llvm | asm | obj | header |\n"
                   "onnx (with --weights; -o default: <model>.onnx) |\n"
                   "memory (the RAM and flash a build needs)\n"
                   "(default: obj)", true>;
def MD : Flag<["-"], "MD">,
         HelpText<"also write a make depfile (OUT.d, or -MF's FILE) for\n"
                  "build systems: the object and header depend on\n"
                  "the .sora file">;
defm MF : Valued<["-"], "MF", "FILE", "with -MD: the depfile's path">;
}

let Group = grp_passes in {
defm passes : Valued<["--"], "passes", "LIST",
                     "graph passes, comma-separated, or none (default:\n"
                     "simplify,fold,cse,dce,fuse,plan)", true>;
def print_ir_after_all : Flag<["--"], "print-ir-after-all">,
                         HelpText<"print each graph after every pass">;
defm print_ir_after : Valued<["--"], "print-ir-after", "PASS",
                             "print each graph after PASS", true>;
def verify_each : Flag<["--"], "verify-each">,
                  HelpText<"verify each graph after every pass">;
def stats : Flag<["--"], "stats">,
            HelpText<"print the training step's statistics (default\n"
                     "pipeline and --passes=none) on stderr">;
def time_passes : Flag<["--"], "time-passes">,
                  HelpText<"print on stderr the wall time of each phase\n"
                           "(front end, graphs, autodiff, each graph pass,\n"
                           "lowering, LLVM), then LLVM's own pass timings">;
}

let Group = grp_codegen in {
// -O0 .. -O3; the level is checked by the driver, so -O4 is an unknown
// argument as any other.
def O : Joined<["-"], "O">, MetaVarName<"<N>">,
        HelpText<"LLVM optimisation level, -O0 .. -O3 (default: -O2)">;
defm target : Valued<["--"], "target", "TRIPLE",
                     "target triple (default: the host)", true>;
defm mcpu : Valued<["--"], "mcpu", "CPU",
                   "target CPU (default: the host's)", true>;
def inference : Flag<["--"], "inference">,
                HelpText<"with --weights W.safetensors, an inference build:\n"
                         "the forward pass only, with the trained weights\n"
                         "of W baked into read-only data">;
defm quantize : Valued<["--"], "quantize", "int8",
                       "with --inference: each dense layer's product in\n"
                       "int8 (weights per row; activation scales from\n"
                       "the f32 model on training samples)", true>;
defm calibrate : Valued<["--"], "calibrate", "N",
                        "with --quantize: calibrate on the first N training\n"
                        "samples (default 1000)">;
defm name : Valued<["--"], "name", "NAME",
                   "prefix the object's symbols with NAME instead of\n"
                   "the model's name (two builds in one program)">;
def profile : Flag<["--"], "profile">, Visibility<[DefaultVis, RunVis]>,
              HelpText<"the train step times each layer's forward,\n"
                       "backward and update; fit prints the table">,
              HelpTextForVariants<[RunVis],
                                  "time each layer's forward, backward and "
                                  "update">;
}

def Werror : Flag<["-"], "Werror">, Group<grp_input>,
             HelpText<"treat warnings as errors">;
defm weights : Valued<["--"], "weights", "W.safetensors",
                      "the checkpoint for --inference or --emit=onnx;\n"
                      "for a training build, the frozen layers'\n"
                      "weights (trainable: false), baked in",
                      false,
                      [HelpTextVariant<[EvalVis], "the checkpoint to "
                                       "evaluate (safetensors)">]>,
               Visibility<[DefaultVis, EvalVis]>, Group<grp_input>;

//===--- sorac run and sorac eval -----------------------------------------===//

let Visibility = [RunVis, EvalVis] in {
defm data : Valued<["--"], "data", "DIR",
                   "look for the train block's data here first">,
            Group<grp_input>;
defm threads : Valued<["--"], "threads", "N",
                      "threads for the big loops (default 1); results\n"
                      "are the same for every count">,
               Group<grp_runtime>;
defm report : Valued<["--"], "report", "json",
                     "end with one line of JSON: the final metrics", false,
                     [HelpTextVariant<[EvalVis], "end with one line of "
                                      "JSON: the test metrics">]>,
              Group<grp_output>;
def quiet : Flag<["--"], "quiet">, Group<grp_output>,
            HelpText<"no progress and no metrics: only errors and what\n"
                     "--report and --profile ask for (also -q)">,
            HelpTextForVariants<[EvalVis], "no metrics: only errors and "
                                           "what --report asks for (also -q)">;
def q : Flag<["-"], "q">, Alias<quiet>;
}

// sorac run only: eval trains nothing.
let Visibility = [RunVis] in {
let Group = grp_runtime in {
defm epochs : Valued<["--"], "epochs", "N",
                     "train to N epochs (N >= 1) instead of the train\n"
                     "block's">;
defm limit : Valued<["--"], "limit", "N",
                    "use only the first N (>= 1) training samples">;
defm seed : Valued<["--"], "seed", "N",
                   "seed weights and shuffling with N">;
}
defm init : Valued<["--"], "init", "W",
                   "start from the checkpoint W (safetensors)">,
            Group<grp_input>;
let Group = grp_output in {
defm save : Valued<["--"], "save", "W",
                   "write the trained model to W (safetensors; W may\n"
                   "be the --init file: the save is atomic)">;
defm log : Valued<["--"], "log", "FILE",
                  "write the training curves to FILE as CSV:\n"
                  "epoch,loss,accuracy,mae,rmse,val_loss,\n"
                  "val_accuracy,val_mae,val_rmse,seconds, then\n"
                  "top_k_accuracy,precision,recall,auc and their\n"
                  "val_ columns, one row per epoch, flushed as\n"
                  "each ends">;
defm plot : Valued<["--"], "plot", "FILE.svg",
                   "draw the training curves (loss, and accuracy\n"
                   "where it applies) as an SVG picture">;
}
}
